"""Thin Celery wrapper: the beat's periodic rollup (config/settings.py CELERY_BEAT_SCHEDULE)."""
from celery import shared_task

from . import services


@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=300, retry_jitter=True,
             max_retries=5, acks_late=True)
def rollup_recent() -> int:
    return services.compute_rollup_recent()
