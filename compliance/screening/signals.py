"""Re-screen an organization whenever what is screened about it (names, sites) is saved."""
from functools import partial

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from inventory.models import Organization, Site


def _enqueue_screening(org_id: int) -> None:
    from .tasks import screen_organization

    transaction.on_commit(partial(screen_organization.delay, org_id))


@receiver(post_save, sender=Organization, dispatch_uid="screening.organization_saved")
def organization_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        _enqueue_screening(instance.pk)


@receiver(post_save, sender=Site, dispatch_uid="screening.site_saved")
def site_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        _enqueue_screening(instance.organization_id)
