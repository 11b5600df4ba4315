"""Thin Celery wrappers: verify the attestation evidence of one stored report, by id; re-enqueue lost ones."""
from celery import shared_task
from django.conf import settings

from compliance.tasks import _RETRY

from . import services


@shared_task(**_RETRY)
def verify_observation_attestation(observation_id: int) -> int:
    return len(services.observation_attestations_verify(observation_id=observation_id))


@shared_task(**_RETRY)
def sweep_pending_attestations() -> int:
    pending = services.observations_pending_attestation(older_than_seconds=settings.CHIPWATCH_SWEEP_AFTER_SECONDS)
    for observation_id in pending:
        verify_observation_attestation.delay(observation_id)
    return len(pending)
