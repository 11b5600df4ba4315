"""Retries through a real Celery worker on the real broker: a receiver failing the first N times, with backoff."""
import pytest

from compliance.notifications.models import Delivery, WebhookEndpoint
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

RETRY_BASE = 0.5  # seconds: waits 0.5, 1, 2 … between attempts


def raised_with_worker(celery_worker_factory, raise_finding, *, max_retries: int):
    celery_worker_factory(CHIPWATCH_NOTIFY_RETRY_BASE_SECONDS=str(RETRY_BASE),
                          CHIPWATCH_NOTIFY_MAX_RETRIES=str(max_retries))
    raise_finding()  # transactional test: committed at once, the delivery is enqueued to the worker
    return Delivery.objects.get()


def test_a_receiver_failing_twice_gets_the_finding_on_the_third_attempt_after_backoff(
        celery_worker_factory, receiver_factory, raise_finding):
    receiver = receiver_factory(fail_first=2, fail_status=503)
    WebhookEndpoint.objects.create(name="siem", url=receiver.url)
    delivery = raised_with_worker(celery_worker_factory, raise_finding, max_retries=3)
    wait_for(lambda: Delivery.objects.get(pk=delivery.pk).status == "delivered", what="the third attempt")
    delivery.refresh_from_db()
    assert delivery.attempts == 3 and len(receiver.requests) == 3
    assert [(a.succeeded, a.status_code) for a in delivery.attempt_log.all()] == [
        (False, 503), (False, 503), (True, 200)]
    assert len({r.body for r in receiver.requests}) == 1  # the same body each time, freshly signed
    gaps = [later.at - earlier.at for earlier, later in zip(receiver.requests, receiver.requests[1:])]
    assert gaps[0] >= RETRY_BASE * 0.9 and gaps[1] >= 2 * RETRY_BASE * 0.9, gaps  # backoff doubles


def test_retries_end_in_failed_with_every_attempt_logged(celery_worker_factory, receiver_factory, raise_finding):
    receiver = receiver_factory(fail_first=99)
    WebhookEndpoint.objects.create(name="siem", url=receiver.url)
    delivery = raised_with_worker(celery_worker_factory, raise_finding, max_retries=2)
    wait_for(lambda: Delivery.objects.get(pk=delivery.pk).status == "failed", what="retries exhausted")
    delivery.refresh_from_db()
    assert delivery.attempts == 3 and len(receiver.requests) == 3
    assert not any(a.succeeded for a in delivery.attempt_log.all())
