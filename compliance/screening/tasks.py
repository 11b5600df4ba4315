"""Thin Celery wrappers: pass ids, call services."""
from celery import shared_task

from compliance.tasks import _RETRY as RETRY

from . import selectors, services


@shared_task(**RETRY)
def screen_organization(org_id: int) -> int:
    return len(services.organization_screen(organization_id=org_id))


@shared_task(**RETRY)
def rescreen_all() -> int:
    """One task per organization, so a failure retries one organization, not the fleet."""
    org_ids = selectors.organization_ids()
    for org_id in org_ids:
        screen_organization.delay(org_id)
    return len(org_ids)
