"""Thin Celery wrapper: pass the host id, call the service."""
from celery import shared_task

from compliance.tasks import _RETRY

from . import services


@shared_task(**_RETRY)
def evaluate_host_location(host_id: int) -> None:
    services.host_location_evaluate(host_id=host_id)
