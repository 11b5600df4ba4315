"""Reads shared by the compliance services and the detectors: who ultimately owns whom,
and what the core says about a catalog model held at a place.  Everything here only reads."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from inventory.models import Organization

from .core import Classification, InsufficientSpec, LicenseDetermination, UnknownChip, chip as catalog_chip
from .core import classify, determine_license


@dataclass(frozen=True)
class Family:
    """An organization's place in its ownership tree: its HQ and its ultimate parent's."""

    headquarters: str
    ultimate_parent_id: int
    ultimate_parent_hq: str


def families() -> dict[int, Family]:
    """Organization id → Family, from one query.

    Follows ``parent`` to the top, stopping at a cycle (the model refuses them on ``clean()``,
    but rows written around it must not hang a detector).
    """
    rows = {pk: (parent_id, hq) for pk, parent_id, hq in
            Organization.objects.values_list("id", "parent_id", "headquarters_country")}
    out = {}
    for org_id, (_, hq) in rows.items():
        top, seen = org_id, {org_id}
        while rows[top][0] is not None and rows[top][0] not in seen:
            top = rows[top][0]
            seen.add(top)
        out[org_id] = Family(hq, top, rows[top][1])
    return out


def licence_holders(cluster, family_of: dict[int, Family]) -> set[int]:
    """Whose licence counts for a cluster: its operator, its site's owner, and their ultimate parents.
    The one definition the scores and the detectors share (a licence is usually held higher up)."""
    owners = {cluster.operator_id, cluster.site.organization_id}
    return owners | {family_of[org].ultimate_parent_id for org in owners}


@dataclass(frozen=True)
class Holding:
    """What the core says about one catalog model held at a place by given parties."""

    classification: Classification
    determination: LicenseDetermination

    @property
    def eccn(self) -> str | None:
        return self.classification.eccn

    @property
    def license_required(self) -> bool:
        return self.determination.license_required


@lru_cache(maxsize=1024)
def holding(model: str, *, country: str, headquarters: str, ultimate_parent_hq: str, as_of: date,
            movement: str | None = None) -> Holding | None:
    """Classification and licence determination of ``model`` at ``country`` for these parties
    (None when the chip cannot be classified).  Cached: a fleet has few such combinations."""
    try:
        chip = catalog_chip(model)
        verdict = classify(chip, as_of)
        return Holding(verdict, determine_license(
            verdict, destination=country, as_of=as_of, headquarters=headquarters,
            ultimate_parent_hq=ultimate_parent_hq, prc_made=chip.prc_made, movement=movement))
    except (UnknownChip, InsufficientSpec):
        return None
