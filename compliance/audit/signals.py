"""Which changes are audited, captured from model signals so no write path (service, admin, shell) can forget them.

The registry below is the one list of models whose rows decide a determination (who operates
what, where, under which licence; what a finding says) or an access right (agent keys,
enrollment secrets, roles, API tokens, accounts).  `tests/audit/test_admin_audit.py` checks that
every model the admin can add, change or delete is in it, so a new admin page cannot slip past.

Queryset.update() and bulk_create() send no signals: the audited models are written only
through save() (inventory.services, compliance.findings, compliance.access, the admin).
"""
from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from .models import AuditEvent
from .services import audit_record, model_snapshot


@dataclass(frozen=True)
class Audited:
    label: str
    # Never copied into the log: a password hash or token digest in an append-only table cannot be erased.
    secret_fields: frozenset[str] = frozenset()
    # Bookkeeping that changes on every use (an agent's last_seen): a change in these alone is no event.
    routine_fields: frozenset[str] = frozenset()


AUDITED = (
    Audited("inventory.Organization", routine_fields=frozenset({"updated_at"})),
    Audited("inventory.Site"),
    Audited("inventory.Cluster"),
    Audited("inventory.Declaration"),
    Audited("inventory.License"),
    Audited("inventory.Transfer"),
    # Every report moves the agent's sequence, last_seen and budget counters (inventory.services.agent_limits).
    Audited("inventory.Agent", routine_fields=frozenset({"last_seen", "last_sequence", "budget_minute_start",
                                                         "budget_minute_reports", "budget_day", "budget_day_bytes"})),
    Audited("inventory.EnrollmentSecret", secret_fields=frozenset({"secret_sha256"})),
    Audited("compliance.Finding"),
    # Who is told of new critical findings, and the key that proves a notification came from us.
    Audited("notifications.WebhookEndpoint", secret_fields=frozenset({"secret"})),
    Audited("notifications.EmailRecipient"),
    Audited("location.Landmark"),
    Audited("access.RoleGrant"),
    Audited("access.ApiToken", secret_fields=frozenset({"digest"}), routine_fields=frozenset({"last_used_at"})),
    Audited("auth.User", secret_fields=frozenset({"password"}), routine_fields=frozenset({"last_login"})),
    Audited("auth.Group"),
)
_BY_MODEL: dict[type, Audited] = {}


def audited_models() -> set[type]:
    return {apps.get_model(entry.label) for entry in AUDITED}


def _snapshot(instance, entry: Audited) -> dict:
    data = model_snapshot(instance)
    for name in entry.secret_fields:
        if name in data:
            data[name] = "(secret, not logged)"
    return data


def _without_routine(snapshot: dict | None, entry: Audited) -> dict | None:
    if snapshot is None:
        return None
    return {key: value for key, value in snapshot.items() if key not in entry.routine_fields}


def _stored_snapshot(instance, entry: Audited):
    stored = type(instance)._default_manager.filter(pk=instance.pk).first() if instance.pk is not None else None
    return _snapshot(stored, entry) if stored is not None else None


def _routine_only(update_fields, entry: Audited) -> bool:
    return update_fields is not None and set(update_fields) <= entry.routine_fields


def _before_save(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw:
        return
    entry = _BY_MODEL[sender]
    # An agent's report touches only its bookkeeping: skip the extra read on the ingest path.
    instance._audit_before = None if _routine_only(update_fields, entry) else _stored_snapshot(instance, entry)


def _after_save(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if raw:
        return
    entry = _BY_MODEL[sender]
    if not created and _routine_only(update_fields, entry):
        return
    before = None if created else getattr(instance, "_audit_before", None)
    after = _snapshot(instance, entry)
    if created or _without_routine(before, entry) != _without_routine(after, entry):
        audit_record(instance=instance, action=AuditEvent.Action.CREATE if created else AuditEvent.Action.UPDATE,
                     before=before, after=after)


def _before_delete(sender, instance, **kwargs):
    instance._audit_before = _snapshot(instance, _BY_MODEL[sender])


def _after_delete(sender, instance, **kwargs):
    audit_record(instance=instance, action=AuditEvent.Action.DELETE,
                 before=getattr(instance, "_audit_before", None), after=None)


def _m2m_changed(sender, instance, action, reverse, **kwargs):
    """A licence's sites or a user's groups changed: recorded as an update of that row (forward side only)."""
    if reverse or type(instance) not in _BY_MODEL:
        return
    entry = _BY_MODEL[type(instance)]
    if action.startswith("pre_"):
        instance._audit_before = _snapshot(instance, entry)
    elif action.startswith("post_"):
        _after_save(type(instance), instance, created=False)


def connect() -> None:
    for entry in AUDITED:
        model = apps.get_model(entry.label)
        _BY_MODEL[model] = entry
        uid = f"audit:{entry.label}"
        pre_save.connect(_before_save, sender=model, dispatch_uid=uid)
        post_save.connect(_after_save, sender=model, dispatch_uid=uid)
        pre_delete.connect(_before_delete, sender=model, dispatch_uid=uid)
        post_delete.connect(_after_delete, sender=model, dispatch_uid=uid)
        for field in model._meta.many_to_many:
            m2m_changed.connect(_m2m_changed, sender=field.remote_field.through, dispatch_uid=f"{uid}.{field.name}")
