"""What several detectors need to know about the fleet, each asked once and set-wise.

Not a detector (it is not listed in ``DETECTORS``): the organization tree, the licence
determination and licences on record, the host's place (cluster, site, operator), the last
two full identities a host reported, and the look-back windows.  Everything here only reads.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from inventory.models import Host, License, Observation

from ..models import Finding

Severity = Finding.Severity
Subject = Finding.Subject


def in_scope(queryset: QuerySet, host_ids: list[int] | None, host_field: str = "host_id") -> QuerySet:
    """The queryset narrowed to the given hosts; ``None`` is the whole fleet."""
    return queryset if host_ids is None else queryset.filter(**{f"{host_field}__in": host_ids})


def hours_ago(hours: float) -> datetime:
    return timezone.now() - timedelta(hours=hours)


def lookback_start() -> datetime:
    """Start of the window the history-reading detectors look at (CHIPWATCH_DETECTOR_LOOKBACK_HOURS)."""
    return hours_ago(settings.CHIPWATCH_DETECTOR_LOOKBACK_HOURS)


# --- organizations and the law ------------------------------------------------------


def licences_on_record(*, holders: set[int], country: str, site_id: int, eccn: str | None,
                       as_of: date) -> list[str]:
    """Numbers of licences valid on ``as_of`` that a holder has for this site (or the whole
    country) and that name the ECCN (a licence naming none covers every ECCN)."""
    valid = (License.objects.filter(holder_id__in=holders, destination_country=country, valid_from__lte=as_of)
             .exclude(valid_until__lt=as_of)
             .filter(Q(sites=None) | Q(sites=site_id)).distinct().values_list("number", "eccns"))
    return sorted(number for number, eccns in valid if not eccns or (eccn and eccn in eccns))


# --- where hosts are -----------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """Where a host sits: its cluster, the cluster's site and country, and its operator."""

    cluster_id: int | None
    site_id: int | None
    country: str | None
    operator_id: int | None



def host_places(host_ids) -> dict[int, Place]:
    """Host id → Place for the given hosts (any iterable of ids), from one query."""
    rows = Host.objects.filter(pk__in=set(host_ids)).values_list(
        "id", "cluster_id", "cluster__site_id", "cluster__site__country", "cluster__operator_id")
    return {host_id: Place(cluster_id, site_id, country, operator_id)
            for host_id, cluster_id, site_id, country, operator_id in rows}


# --- full identities -----------------------------------------------------------------


@dataclass(frozen=True)
class IdentityChange:
    """A host's last two full-identity reports, reduced to what changed between them."""

    host_id: int
    previous_id: int
    latest_id: int
    previous_uuids: frozenset[str]
    latest_uuids: frozenset[str]
    previous_count: int
    latest_count: int
    previous_boot_id: str | None
    latest_boot_id: str | None

    @property
    def observation_ids(self) -> tuple[int, int]:
        return self.previous_id, self.latest_id


def last_two_identities(host_ids: list[int] | None) -> list[IdentityChange]:
    """For each host with at least two full-identity reports, the last two (in the order the
    server stored them: ids, not the agent's forgeable ``collected_at``).

    One windowed query ranks every host's full identities; only the top two per host are read.
    The GPU count is the number of GPU entries, so a GPU that fell off the bus (its entries turn
    into NVML error markers) still counts; UUIDs are the readable ones.
    """
    ranked = in_scope(Observation.objects.filter(full_identity=True), host_ids).annotate(
        rank=Window(RowNumber(), partition_by=[F("host_id")], order_by=[F("id").desc()])
    ).filter(rank__lte=2).values_list("host_id", "id", "payload")
    by_host: dict[int, list[tuple[int, dict]]] = defaultdict(list)
    for host_id, observation_id, payload in ranked:
        by_host[host_id].append((observation_id, payload))
    changes = []
    for host_id, pair in by_host.items():
        if len(pair) < 2:
            continue
        (latest_id, latest), (previous_id, previous) = sorted(pair, reverse=True)
        changes.append(IdentityChange(
            host_id=host_id, previous_id=previous_id, latest_id=latest_id,
            previous_uuids=_uuids(previous), latest_uuids=_uuids(latest),
            previous_count=len(previous["identity"]["gpus"]), latest_count=len(latest["identity"]["gpus"]),
            previous_boot_id=_boot_id(previous), latest_boot_id=_boot_id(latest),
        ))
    return changes


def _uuids(payload: dict) -> frozenset[str]:
    return frozenset(g["uuid"] for g in payload["identity"]["gpus"] if isinstance(g["uuid"], str))


def _boot_id(payload: dict) -> str | None:
    boot_id = payload["host"].get("boot_id")
    return boot_id if isinstance(boot_id, str) else None
