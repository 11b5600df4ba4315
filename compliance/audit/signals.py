"""Which changes are audited, captured from model signals so no write path can forget them.

Queryset.update() and bulk_create() send no signals: the audited models are written only
through save() (inventory.services, compliance.findings, the admin).
"""
from django.apps import apps
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from .models import AuditEvent
from .services import audit_record, model_snapshot

AUDITED_MODELS = (
    "inventory.Organization", "inventory.Site", "inventory.Declaration", "inventory.License", "inventory.Transfer",
    "compliance.Finding",
)


def _stored_snapshot(instance):
    stored = type(instance)._default_manager.filter(pk=instance.pk).first() if instance.pk is not None else None
    return model_snapshot(stored) if stored is not None else None


def _before_save(sender, instance, raw=False, **kwargs):
    if not raw:
        instance._audit_before = _stored_snapshot(instance)


def _after_save(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    before = None if created else getattr(instance, "_audit_before", None)
    after = model_snapshot(instance)
    if before != after:
        audit_record(instance=instance, action=AuditEvent.Action.CREATE if created else AuditEvent.Action.UPDATE,
                     before=before, after=after)


def _before_delete(sender, instance, **kwargs):
    instance._audit_before = model_snapshot(instance)


def _after_delete(sender, instance, **kwargs):
    audit_record(instance=instance, action=AuditEvent.Action.DELETE,
                 before=getattr(instance, "_audit_before", None), after=None)


def _m2m_changed(sender, instance, action, reverse, **kwargs):
    """A licence's sites changed: recorded as an update of the licence (forward side only)."""
    if reverse:
        return
    if action.startswith("pre_"):
        instance._audit_before = model_snapshot(instance)
    elif action.startswith("post_"):
        _after_save(type(instance), instance, created=False)


def connect() -> None:
    for label in AUDITED_MODELS:
        model = apps.get_model(label)
        uid = f"audit:{label}"
        pre_save.connect(_before_save, sender=model, dispatch_uid=uid)
        post_save.connect(_after_save, sender=model, dispatch_uid=uid)
        pre_delete.connect(_before_delete, sender=model, dispatch_uid=uid)
        post_delete.connect(_after_delete, sender=model, dispatch_uid=uid)
        for field in model._meta.many_to_many:
            m2m_changed.connect(_m2m_changed, sender=field.remote_field.through, dispatch_uid=f"{uid}.{field.name}")
