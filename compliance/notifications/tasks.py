"""Celery task of notifications: thin, passes the delivery id; retries with backoff through Celery."""
from celery import shared_task
from django.conf import settings

from . import services
from .models import Delivery


@shared_task(bind=True, acks_late=True)
def delivery_send(self, delivery_id: int) -> str:
    max_retries = settings.CHIPWATCH_NOTIFY_MAX_RETRIES
    # In-process (embedded mode, no broker) nothing could run a later retry: one attempt, and its outcome is final.
    last_try = self.request.is_eager or self.request.retries >= max_retries
    status = services.delivery_attempt(delivery_id=delivery_id, last_try=last_try)
    if status == Delivery.Status.RETRYING:
        raise self.retry(countdown=services.retry_delay(self.request.retries), max_retries=max_retries)
    return status
