"""Where new critical and high findings are sent, and what happened to every sending.

Endpoints and recipients are configured in the admin.  A Delivery is written in the
same transaction as the finding it announces (the database holds the pending work);
its attempts are kept, one row each, so an officer can see why a receiver never got it.
"""
import secrets

from django.db import models

from compliance.models import Finding


NOTIFIED_SEVERITY_CHOICES = [(Finding.Severity.HIGH.value, "high"), (Finding.Severity.CRITICAL.value, "critical")]


def new_signing_secret() -> str:
    return secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500, help_text="HTTPS in production; receives a signed JSON POST")
    secret = models.CharField(max_length=128, default=new_signing_secret,
                              help_text="HMAC-SHA256 key shared with the receiver (docs/notifications.md)")
    min_severity = models.PositiveSmallIntegerField(choices=NOTIFIED_SEVERITY_CHOICES, default=Finding.Severity.HIGH,
                                                    help_text="findings at or above this severity are sent")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.url})"


class EmailRecipient(models.Model):
    address = models.EmailField(unique=True)
    name = models.CharField(max_length=100, blank=True)
    min_severity = models.PositiveSmallIntegerField(choices=NOTIFIED_SEVERITY_CHOICES, default=Finding.Severity.HIGH,
                                                    help_text="findings at or above this severity are sent")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["address"]

    def __str__(self):
        return f"{self.name} <{self.address}>" if self.name else self.address


class Delivery(models.Model):
    """One finding announced to one endpoint or recipient; the body is fixed when it is queued."""

    class Channel(models.TextChoices):
        WEBHOOK = "webhook"
        EMAIL = "email"

    class Status(models.TextChoices):
        PENDING = "pending"
        RETRYING = "retrying"
        DELIVERED = "delivered"
        FAILED = "failed", "failed (retries exhausted)"

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=40, default="finding.raised")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    endpoint = models.ForeignKey(WebhookEndpoint, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="deliveries")
    recipient = models.ForeignKey(EmailRecipient, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="deliveries")
    target = models.CharField(max_length=500, help_text="the URL or address as it was when queued")
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["finding", "event", "endpoint"], condition=models.Q(channel="webhook"),
                                    name="delivery_once_per_endpoint"),
            models.UniqueConstraint(fields=["finding", "event", "recipient"], condition=models.Q(channel="email"),
                                    name="delivery_once_per_recipient"),
        ]

    def __str__(self):
        return f"{self.event} #{self.finding_id} → {self.target} ({self.status})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    succeeded = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="HTTP status, webhooks only")
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField()

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="delivery_attempt_number")]
