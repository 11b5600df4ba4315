"""Thin Celery wrapper: the beat creates GpuSample's monthly partitions ahead (config/settings.py
CELERY_BEAT_SCHEDULE); on SQLite it does nothing."""
from celery import shared_task
from django.db import transaction
from django.utils import timezone

from . import partitions


@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=300, retry_jitter=True,
             max_retries=5, acks_late=True)
def partitions_create_ahead() -> list[str]:
    with transaction.atomic():
        return partitions.create_ahead(now=timezone.now())
