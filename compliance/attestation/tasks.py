"""Thin Celery wrapper: verify the attestation evidence of one stored report, by id."""
from celery import shared_task

from compliance.tasks import _RETRY

from . import services


@shared_task(**_RETRY)
def verify_observation_attestation(observation_id: int) -> int:
    return len(services.observation_attestations_verify(observation_id=observation_id))
