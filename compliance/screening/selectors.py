"""Reads for screening; each is one query whatever the size of the list."""
from __future__ import annotations

from django.db.models import QuerySet

from inventory.models import Organization

from .models import ListEntry, ListEntryKey, ScreeningList


def screening_list_current() -> ScreeningList | None:
    """The most recently imported list: each import is a full snapshot of the CSL."""
    return ScreeningList.objects.order_by("-imported_at", "-id").first()


def screening_candidates(*, screening_list: ScreeningList, keys: set[str]) -> QuerySet[ListEntry]:
    """Entries of the list sharing at least one blocking key with the organization (index lookup)."""
    matching_ids = ListEntryKey.objects.filter(screening_list=screening_list, key__in=sorted(keys)).values("entry_id")
    return ListEntry.objects.filter(id__in=matching_ids)


def organization_for_screening(*, organization_id: int) -> Organization | None:
    return Organization.objects.prefetch_related("sites").filter(pk=organization_id).first()


def organization_ids() -> list[int]:
    return list(Organization.objects.order_by("id").values_list("id", flat=True))
