"""Agent enrollment: enrollment secrets, registering an agent's key against one, revoking it."""
from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..models import Agent, EnrollmentSecret, Host
from .errors import IngestError
from .ingest import enqueue_evaluation


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

    A host belongs to the cluster of the secret that enrolled it.  A re-installed agent keeps
    its host: same machine id in the secret's cluster (for a secret without a cluster, a host
    that secret enrolled).  The host then has one live key: re-enrolling retires the old one.
    A machine id bound to a host anywhere else (another cluster or tenant, e.g. a cloned
    /etc/machine-id) is never attached to: the agent gets a new host, and the new host is
    evaluated at once so ``duplicate_identity`` raises the shared machine id.
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
        host = _host_to_reattach(enrollment, machine_id)
        if host is None:
            bound_elsewhere = bool(machine_id) and Host.objects.filter(machine_id=machine_id).exists()
            host = Host.objects.create(hostname=hostname, machine_id=machine_id, cluster=enrollment.cluster,
                                       needs_evaluation=now if bound_elsewhere else None)
            if bound_elsewhere:
                transaction.on_commit(lambda: enqueue_evaluation(host.pk))
        else:
            # One live key per host (a constraint holds it): the re-enrolled agent's old key is retired.
            Agent.objects.select_for_update().filter(host=host, revoked_at__isnull=True).update(revoked_at=now)
        enrollment.uses += 1
        enrollment.save(update_fields=["uses"])
        return Agent.objects.create(host=host, public_key=public_key, enrollment_secret=enrollment)


def _host_to_reattach(enrollment: EnrollmentSecret, machine_id: str) -> Host | None:
    """The host a re-installed agent returns to: never one outside the secret's cluster."""
    if not machine_id:
        return None
    hosts = Host.objects.select_for_update().filter(machine_id=machine_id)
    if enrollment.cluster_id is not None:
        hosts = hosts.filter(cluster_id=enrollment.cluster_id)
    else:
        hosts = hosts.filter(cluster__isnull=True, agents__enrollment_secret=enrollment)
    return hosts.order_by("id").first()


def agent_revoke(*, agent: Agent) -> Agent:
    """Revoke an agent's key: its next report is refused with 403, for good (Agent.save refuses
    clearing ``revoked_at``; re-enrolling the host with a new key is the way back)."""
    if agent.revoked_at is None:
        agent.revoked_at = timezone.now()
        agent.save(update_fields=["revoked_at"])
    return agent
