"""The audit log: every change to the records a regulator may ask about, append-only and hash-chained.

Each event stores the SHA-256 of the previous one and its own SHA-256 over the canonical
JSON of its content (including that previous hash), so editing or deleting a row behind
the application's back breaks the chain at that row (`manage.py verify_audit_log`).
"""
from django.core.exceptions import ValidationError
from django.db import models

from .canonical import canonical_json, sha256_hex

GENESIS_SHA256 = "0" * 64


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"

    seq = models.PositiveBigIntegerField(unique=True, help_text="1, 2, 3, … with no gaps: a gap is a deleted row")
    at = models.DateTimeField(db_index=True)
    # Plain ids, not a foreign key: deleting a user must not rewrite (and so break) the chain.
    user_id = models.BigIntegerField(null=True, blank=True)
    user_name = models.CharField(max_length=150, blank=True, help_text="Frozen: survives the user's deletion")
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    model = models.CharField(max_length=100, help_text="app_label.model_name")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=6, choices=Action.choices)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    prev_sha256 = models.CharField(max_length=64)
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["model", "object_id"]), models.Index(fields=["user_name", "at"])]

    def __str__(self):
        return f"#{self.seq} {self.action} {self.model}:{self.object_id}"

    def content(self) -> dict:
        """Everything the hash covers."""
        return {
            "seq": self.seq, "at": self.at.isoformat(), "user_id": self.user_id, "user_name": self.user_name,
            "request_id": self.request_id, "model": self.model, "object_id": self.object_id,
            "object_repr": self.object_repr, "action": self.action, "before": self.before, "after": self.after,
            "prev_sha256": self.prev_sha256,
        }

    def compute_sha256(self) -> str:
        return sha256_hex(canonical_json(self.content()))

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError("AuditEvent is append-only: rows are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("AuditEvent is append-only: rows are never deleted")
