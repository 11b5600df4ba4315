"""Webhooks for new critical/high findings: a signed JSON POST to a real receiver, retried through Celery, logged."""
import json
import time

import pytest
from django.core import mail

from compliance.models import Finding
from compliance.notifications import signing
from compliance.notifications.models import Delivery, EmailRecipient, WebhookEndpoint


@pytest.fixture(autouse=True)
def short_timeout(settings):
    settings.CHIPWATCH_NOTIFY_TIMEOUT_SECONDS = 5


def endpoint_for(receiver, **options) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(name=options.pop("name", "siem"), url=receiver.url, **options)


def test_a_new_critical_finding_is_posted_signed_once_committed(receiver_factory, raise_finding,
                                                                django_capture_on_commit_callbacks):
    receiver = receiver_factory()
    endpoint = endpoint_for(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        finding = raise_finding()
        assert receiver.requests == []  # nothing leaves before the finding is committed
    [request] = receiver.requests
    headers = request.headers
    assert signing.signature_verify(endpoint.secret, headers["X-Chipwatch-Timestamp"], request.body,
                                    headers["X-Chipwatch-Signature"])
    body = json.loads(request.body)
    assert body["event"] == "finding.raised" == headers["X-Chipwatch-Event"]
    assert body["finding"]["id"] == finding.pk and body["finding"]["severity"] == "critical"
    assert body["finding"]["citation"].startswith("15 CFR 744.11")
    assert body["finding"]["evidence"]["figures"]["score"] == 0.97
    delivery = Delivery.objects.get()
    assert headers["X-Chipwatch-Delivery"] == str(delivery.pk)
    assert (delivery.status, delivery.attempts, delivery.target) == ("delivered", 1, receiver.url)
    assert [(a.number, a.succeeded, a.status_code) for a in delivery.attempt_log.all()] == [(1, True, 200)]


def test_the_signature_binds_the_body_the_timestamp_and_the_secret(receiver_factory, raise_finding,
                                                                   django_capture_on_commit_callbacks):
    receiver = receiver_factory()
    endpoint = endpoint_for(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        raise_finding()
    [request] = receiver.requests
    timestamp, header = request.headers["X-Chipwatch-Timestamp"], request.headers["X-Chipwatch-Signature"]
    assert signing.signature_verify(endpoint.secret, timestamp, request.body, header)
    assert not signing.signature_verify(endpoint.secret, timestamp, request.body.replace(b"0.97", b"0.10"), header)
    assert not signing.signature_verify("another secret", timestamp, request.body, header)
    assert not signing.signature_verify(endpoint.secret, str(int(timestamp) + 1), request.body, header)
    assert not signing.signature_verify(endpoint.secret, timestamp, request.body, header, now=time.time() + 600)


def test_medium_findings_and_refreshes_of_known_findings_send_nothing(receiver_factory, raise_finding,
                                                                      django_capture_on_commit_callbacks):
    receiver = receiver_factory()
    endpoint_for(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        raise_finding(severity=Finding.Severity.MEDIUM, key="medium")
        raise_finding(key="critical")
        raise_finding(key="critical")  # the same condition seen again: not new
    assert len(receiver.requests) == 1 and Delivery.objects.count() == 1


def test_an_endpoint_gets_only_what_it_asked_for(receiver_factory, raise_finding, django_capture_on_commit_callbacks):
    critical_only, everything, paused = receiver_factory(), receiver_factory(), receiver_factory()
    endpoint_for(critical_only, name="critical", min_severity=Finding.Severity.CRITICAL)
    endpoint_for(everything, name="all")
    endpoint_for(paused, name="paused", active=False)
    with django_capture_on_commit_callbacks(execute=True):
        raise_finding(severity=Finding.Severity.HIGH)
    assert (len(critical_only.requests), len(everything.requests), len(paused.requests)) == (0, 1, 0)


def test_in_process_a_failure_is_final_and_logged_not_raised(raise_finding, django_capture_on_commit_callbacks):
    """Embedded mode (no broker, tasks eager) has nothing to run a later retry: one attempt, logged as failed."""
    WebhookEndpoint.objects.create(name="gone", url="http://127.0.0.1:9/hooks")  # nothing listens: refused
    with django_capture_on_commit_callbacks(execute=True):
        finding = raise_finding()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.finding_id) == ("failed", 1, finding.pk)
    [attempt] = delivery.attempt_log.all()
    assert attempt.status_code is None and "ConnectionRefusedError" in attempt.error


def test_a_redirect_is_not_followed(receiver_factory, raise_finding, django_capture_on_commit_callbacks):
    receiver = receiver_factory(fail_first=99, fail_status=302)
    endpoint_for(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        raise_finding()
    assert Delivery.objects.get().status == "failed" and len(receiver.requests) == 1


def test_email_recipients_get_the_finding_through_the_mail_backend(raise_finding, django_capture_on_commit_callbacks):
    EmailRecipient.objects.create(address="officer@example.com", name="Export officer")
    EmailRecipient.objects.create(address="paused@example.com", active=False)
    with django_capture_on_commit_callbacks(execute=True):
        finding = raise_finding()
    [message] = mail.outbox
    assert message.to == ["officer@example.com"]
    assert message.subject == f"[chipwatch] CRITICAL: {finding.title}"
    assert "15 CFR 744.11" in message.body and f"finding id: {finding.pk}" in message.body
    delivery = Delivery.objects.get()
    assert (delivery.channel, delivery.status, delivery.attempts) == ("email", "delivered", 1)


def test_nothing_is_queued_when_the_finding_transaction_rolls_back(receiver_factory, raise_finding,
                                                                   django_capture_on_commit_callbacks):
    from django.db import transaction

    receiver = receiver_factory()
    endpoint_for(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                raise_finding()
                raise RuntimeError("the detector failed after raising")
    assert Delivery.objects.count() == 0 and receiver.requests == []
