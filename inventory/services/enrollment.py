"""Agent enrollment: enrollment secrets, registering an agent's key against one, revoking it."""
from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..models import Agent, EnrollmentSecret, Host
from .ingest import IngestError


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def enrollment_secret_create(*, label: str, cluster=None, max_uses: int | None = None,
                             expires_at: datetime | None = None) -> tuple[EnrollmentSecret, str]:
    """Create a secret and return it once in plain text; only its SHA-256 is stored."""
    plaintext = secrets.token_urlsafe(32)
    obj = EnrollmentSecret.objects.create(
        label=label, secret_sha256=_secret_hash(plaintext), cluster=cluster, max_uses=max_uses, expires_at=expires_at
    )
    return obj, plaintext


def agent_enroll(*, secret: str, public_key: str, hostname: str, machine_id: str = "") -> Agent:
    """Register an agent's public key against a valid enrollment secret.

    The host is found by machine id (a re-installed agent keeps its host) or created.
    """
    try:
        if len(base64.b64decode(public_key, validate=True)) != 32:
            raise ValueError
    except (ValueError, TypeError):
        raise IngestError(400, "invalid_public_key", "public_key must be a base64 raw 32-byte Ed25519 key")
    if not hostname or len(hostname) > 255:
        raise IngestError(400, "invalid_hostname", "hostname must be 1-255 characters")
    if len(machine_id) > 64:
        raise IngestError(400, "invalid_machine_id", "machine_id must be at most 64 characters")
    now = timezone.now()
    with transaction.atomic():
        enrollment = (
            EnrollmentSecret.objects.select_for_update().filter(secret_sha256=_secret_hash(secret or "")).first()
        )
        if enrollment is None:
            raise IngestError(401, "invalid_secret", "unknown enrollment secret")
        if enrollment.revoked_at or (enrollment.expires_at and enrollment.expires_at <= now):
            raise IngestError(403, "secret_expired", "enrollment secret revoked or expired")
        if enrollment.max_uses is not None and enrollment.uses >= enrollment.max_uses:
            raise IngestError(403, "secret_used_up", "enrollment secret has no uses left")
        if Agent.objects.filter(public_key=public_key).exists():
            raise IngestError(409, "key_already_enrolled", "this public key is already enrolled")
        host = Host.objects.filter(machine_id=machine_id).first() if machine_id else None
        if host is None:
            host = Host.objects.create(hostname=hostname, machine_id=machine_id, cluster=enrollment.cluster)
        enrollment.uses += 1
        enrollment.save(update_fields=["uses"])
        return Agent.objects.create(host=host, public_key=public_key, enrollment_secret=enrollment)


def agent_revoke(*, agent: Agent) -> Agent:
    """Revoke an agent's key: its next report is refused with 403."""
    if agent.revoked_at is None:
        agent.revoked_at = timezone.now()
        agent.save(update_fields=["revoked_at"])
    return agent
