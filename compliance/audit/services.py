"""Writing audit events: the chain is extended under a lock, inside the caller's transaction."""
from __future__ import annotations

import json

from django.db import connection, transaction
from django.utils import timezone

from .canonical import canonical_json
from .context import current_actor
from .models import GENESIS_SHA256, AuditEvent

# pg_advisory_xact_lock key: one writer extends the chain at a time, until its transaction ends.
_CHAIN_LOCK = 0x63687077_61756469  # "chpwaudi"


def jsonb_stable(value):
    """A JSON value that reads back from PostgreSQL jsonb with the same canonical bytes.

    jsonb prints large integral floats without an exponent (1e+16 → 10000000000000000, read
    back as an int) and -0.0 as -0; those are normalised before hashing.
    """
    if isinstance(value, float):
        if value == 0:
            return 0.0
        if value.is_integer() and abs(value) >= 1e16:
            return int(value)
        return value
    if isinstance(value, dict):
        return {key: jsonb_stable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonb_stable(item) for item in value]
    return value


def model_snapshot(instance) -> dict:
    """Every concrete field (foreign keys as ids) and many-to-many ids, as JSON-native values."""
    opts = instance._meta
    data = {field.attname: field.value_from_object(instance) for field in opts.concrete_fields}
    if instance.pk is not None:
        for field in opts.many_to_many:
            data[field.name] = sorted(getattr(instance, field.name).values_list("pk", flat=True))
    return jsonb_stable(json.loads(canonical_json(data)))


def audit_record(*, instance, action: str, before: dict | None, after: dict | None) -> AuditEvent:
    """Append one event for a change to `instance`, chained to the previous event."""
    actor = current_actor()
    user = actor.resolve_user()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
        last = AuditEvent.objects.order_by("-seq").values("seq", "sha256").first()
        event = AuditEvent(
            seq=last["seq"] + 1 if last else 1, prev_sha256=last["sha256"] if last else GENESIS_SHA256,
            at=timezone.now(), user_id=user.pk if user else None, user_name=user.get_username() if user else "",
            request_id=actor.request_id, model=instance._meta.label_lower, object_id=str(instance.pk),
            object_repr=str(instance)[:200], action=action, before=before, after=after,
        )
        event.sha256 = event.compute_sha256()
        event.save()
    return event
