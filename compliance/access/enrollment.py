"""Revoking enrollment secrets (issuing is inventory.services.enrollment.enrollment_secret_create).

A revoked secret enrolls nothing more; the agents it already enrolled keep their keys
(revoke those one by one: inventory.services.enrollment.agent_revoke).
"""
from django.db import transaction
from django.utils import timezone

from inventory.models import EnrollmentSecret


def enrollment_secret_revoke(*, secret: EnrollmentSecret) -> EnrollmentSecret:
    """Final: there is no un-revoke; revoking twice keeps the first time."""
    with transaction.atomic():
        secret = EnrollmentSecret.objects.select_for_update().get(pk=secret.pk)
        if secret.revoked_at is None:
            secret.revoked_at = timezone.now()
            secret.save(update_fields=["revoked_at"])
    return secret
