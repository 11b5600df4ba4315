"""Writes of notifications: queue the deliveries of a new finding, record one attempt of a delivery.

`finding_notifications_queue` runs inside the transaction that raises the finding, so a
delivery exists exactly when its finding does; the sending is enqueued on commit.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from compliance.models import Finding

from .models import Delivery, DeliveryAttempt, EmailRecipient, WebhookEndpoint
from .signing import signature

NOTIFIED_SEVERITIES = (Finding.Severity.HIGH, Finding.Severity.CRITICAL)
EVENT_RAISED = "finding.raised"
MAX_ERROR_CHARS = 1000


def finding_payload(finding: Finding) -> dict:
    """What a receiver needs to act without asking back: the finding, its evidence and its citation."""
    return {
        "event": EVENT_RAISED,
        "finding": {
            "id": finding.pk, "kind": finding.kind, "severity": finding.get_severity_display(),
            "status": finding.status, "title": finding.title, "citation": finding.citation,
            "subject_type": finding.subject_type, "subject_id": finding.subject_id,
            "cluster_id": finding.cluster_id, "organization_id": finding.organization_id,
            "first_seen": finding.first_seen.isoformat(), "evidence": finding.evidence,
        },
    }


def payload_bytes(payload: dict) -> bytes:
    """The exact bytes sent and signed: compact, sorted keys, UTF-8."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def finding_notifications_queue(*, finding: Finding) -> list[Delivery]:
    """One delivery per active endpoint and recipient that wants this severity; each sent once committed."""
    if finding.severity not in NOTIFIED_SEVERITIES:
        return []
    payload = finding_payload(finding)
    deliveries = [
        Delivery(finding=finding, event=EVENT_RAISED, channel=Delivery.Channel.WEBHOOK, endpoint=endpoint,
                 target=endpoint.url, payload=payload)
        for endpoint in WebhookEndpoint.objects.filter(active=True, min_severity__lte=finding.severity)
    ] + [
        Delivery(finding=finding, event=EVENT_RAISED, channel=Delivery.Channel.EMAIL, recipient=recipient,
                 target=recipient.address, payload=payload)
        for recipient in EmailRecipient.objects.filter(active=True, min_severity__lte=finding.severity)
    ]
    if not deliveries:
        return []
    Delivery.objects.bulk_create(deliveries)
    from .tasks import delivery_send

    for delivery in deliveries:
        transaction.on_commit(partial(delivery_send.delay, delivery.pk))
    return deliveries


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed delivery: following it would re-send a signed body to a URL nobody configured."""

    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _webhook_post(delivery: Delivery) -> tuple[int | None, str]:
    body = payload_bytes(delivery.payload)
    timestamp = str(int(time.time()))
    request = urllib.request.Request(delivery.target, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "chipwatch-notifications/1",
        "X-Chipwatch-Event": delivery.event, "X-Chipwatch-Delivery": str(delivery.pk),
        "X-Chipwatch-Timestamp": timestamp,
        "X-Chipwatch-Signature": signature(delivery.endpoint.secret, timestamp, body),
    })
    try:
        with _OPENER.open(request, timeout=settings.CHIPWATCH_NOTIFY_TIMEOUT_SECONDS) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:  # refused, unresolvable, TLS: the reason is the underlying error
        reason = exc.reason
        return None, f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)
    except OSError as exc:  # a timeout while reading the answer
        return None, f"{type(exc).__name__}: {exc}"


def _email_send(delivery: Delivery) -> tuple[None, str]:
    finding = delivery.payload["finding"]
    subject = f"[chipwatch] {finding['severity'].upper()}: {finding['title']}"[:200]
    body = "\n".join([
        f"A {finding['severity']} finding was raised: {finding['title']}",
        f"kind: {finding['kind']}", f"citation: {finding['citation']}",
        f"subject: {finding['subject_type']} #{finding['subject_id']}", f"first seen: {finding['first_seen']}",
        f"finding id: {finding['id']}", "", "evidence:", json.dumps(finding["evidence"], indent=2, sort_keys=True),
    ])
    try:
        send_mail(subject, body, None, [delivery.target])
    except (OSError, ValueError) as exc:  # smtplib.SMTPException is an OSError
        return None, f"{type(exc).__name__}: {exc}"
    return None, ""


def delivery_attempt(*, delivery_id: int, last_try: bool) -> str:
    """Send once and record the attempt; returns the delivery's status afterwards.

    Sent outside any transaction (a slow receiver holds no lock); a delivery already
    delivered or failed is not sent again, so a redelivered task message is harmless.
    Receivers should still de-duplicate on X-Chipwatch-Delivery (at-least-once).
    """
    delivery = Delivery.objects.select_related("endpoint").get(pk=delivery_id)
    if delivery.status in (Delivery.Status.DELIVERED, Delivery.Status.FAILED):
        return delivery.status
    started = time.monotonic()
    if delivery.channel == Delivery.Channel.WEBHOOK:
        if delivery.endpoint is None:
            status_code, error = None, "the endpoint was deleted after this delivery was queued"
            last_try = True
        else:
            status_code, error = _webhook_post(delivery)
        succeeded = status_code is not None and 200 <= status_code < 300
    else:
        status_code, error = _email_send(delivery)
        succeeded = not error
    duration_ms = int((time.monotonic() - started) * 1000)
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery_id)
        delivery.attempts += 1
        DeliveryAttempt.objects.create(delivery=delivery, number=delivery.attempts, at=timezone.now(),
                                       succeeded=succeeded, status_code=status_code,
                                       error=error[:MAX_ERROR_CHARS], duration_ms=duration_ms)
        if succeeded:
            delivery.status, delivery.delivered_at = Delivery.Status.DELIVERED, timezone.now()
        else:
            delivery.status = Delivery.Status.FAILED if last_try else Delivery.Status.RETRYING
        delivery.save(update_fields=["status", "attempts", "delivered_at"])
    return delivery.status


def retry_delay(retries: int) -> float:
    """Exponential backoff: base, 2 x base, 4 x base … capped at an hour."""
    return min(settings.CHIPWATCH_NOTIFY_RETRY_BASE_SECONDS * 2 ** retries, 3600)
