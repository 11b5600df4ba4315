"""vanished_undeclared — the inventory and the declarations disagree.

Patterns.

* Declared GPUs (inventory.Declaration, by UUID or, for serial-only rows, by board serial)
  that reported once and have been silent for longer than CHIPWATCH_VANISHED_AFTER_HOURS,
  grouped by the host that last described them; and declared GPUs never reported at all
  that long after their import (grouped by declared site).  A declared GPU that stops
  reporting is the plainest sign it was taken somewhere else.
* Hosts whose GPU count dropped between their last two full-identity reports (entries are
  counted, so a GPU that fell off the bus and answers NVML errors still counts; one that is
  gone from the list does not).
* GPUs that report but were never declared.  Only for clusters whose operator has declared
  GPUs at all: an organization that never imported declarations would otherwise have every
  GPU "undeclared", which says nothing.

Red flag.  Supp. No. 3 to part 732 and the May 13 2025 BIS diversion guidance: items not
where the end user said they would be, inventories that do not reconcile; the proposed Chip
Security Act's duty to report a product diverted or in another location (S.1705 / H.R.3447, Sec. 4).

Evidence.  Silent: the GPUs, when each was last seen, and the last full-identity observation
that described it.  Never reported: the declarations (ids, UUID or serial, import time).
Count drop: both observations and the UUIDs missing from the later one.  Undeclared: the GPUs
and the observation that last described each.

Severity.  High for a declared GPU gone silent, and for undeclared GPUs classified under
3A090; medium for a GPU count drop and for declared GPUs never reported; low for undeclared
GPUs outside 3A090.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q

from inventory.models import Declaration, Gpu

from ..findings import FindingSpec
from ._fleet import Severity, Subject, host_places, hours_ago, in_scope, last_two_identities

KIND_SILENT = "vanished_undeclared.silent"
KIND_NEVER_REPORTED = "vanished_undeclared.never_reported"
KIND_COUNT_DROP = "vanished_undeclared.count_drop"
KIND_UNDECLARED = "vanished_undeclared.undeclared"
CITATION = ("15 CFR part 732 Supp. No. 3 (red flags); BIS diversion guidance of May 13 2025; "
            "Chip Security Act (S.1705/H.R.3447, proposed) on diverted products")

# A declaration names a GPU by UUID, or (serial-only rows) by its board serial.
_DECLARED = Exists(Declaration.objects.filter(
    Q(gpu_uuid=OuterRef("uuid")) | Q(gpu_uuid="", serial=OuterRef("serial")) & ~Q(serial="")))
_REPORTED = Exists(Gpu.objects.filter(
    Q(uuid=OuterRef("gpu_uuid")) | Q(serial=OuterRef("serial")) & ~Q(serial="")))


def detect(*, host_ids: list[int] | None) -> Iterable[FindingSpec]:
    yield from _silent(host_ids)
    if host_ids is None:  # declarations never reported belong to no host: fleet runs only
        yield from _never_reported()
    yield from _count_drops(host_ids)
    yield from _undeclared(host_ids)


def _by_host(gpus, host_key: str = "host_id") -> dict[int, list[dict]]:
    grouped = defaultdict(list)
    for gpu in gpus:
        grouped[gpu[host_key]].append(gpu)
    return grouped


def _silent(host_ids: list[int] | None) -> Iterable[FindingSpec]:
    cutoff = hours_ago(settings.CHIPWATCH_VANISHED_AFTER_HOURS)
    silent = (in_scope(Gpu.objects.filter(_DECLARED, last_seen__lt=cutoff, last_observation__isnull=False), host_ids,
                       "last_observation__host_id")
              .values("uuid", "last_seen", "last_observation_id", "last_observation__host_id"))
    grouped = _by_host(silent, "last_observation__host_id")
    places = host_places(grouped)
    for host_id, gpus in grouped.items():
        place = places[host_id]
        yield FindingSpec(
            kind=KIND_SILENT, severity=Severity.HIGH, subject_type=Subject.HOST, subject_id=host_id,
            dedup_key=f"{KIND_SILENT}:host{host_id}",
            title=(f"{len(gpus)} declared GPU(s) last described by this host silent for more than "
                   f"{settings.CHIPWATCH_VANISHED_AFTER_HOURS} h"),
            citation=CITATION,
            observation_ids=tuple(g["last_observation_id"] for g in gpus),
            figures={"silent_after_hours": settings.CHIPWATCH_VANISHED_AFTER_HOURS,
                     "gpus": sorted(({"uuid": g["uuid"], "last_seen": g["last_seen"].isoformat()} for g in gpus),
                                    key=lambda g: g["uuid"])},
            cluster_id=place.cluster_id, organization_id=place.operator_id,
        )


def _never_reported() -> Iterable[FindingSpec]:
    cutoff = hours_ago(settings.CHIPWATCH_VANISHED_AFTER_HOURS)
    missing = (Declaration.objects.filter(imported_at__lt=cutoff).exclude(_REPORTED)
               .values("id", "gpu_uuid", "serial", "site_id", "site__organization_id", "licensed_end_user_id",
                       "imported_at"))
    by_site = defaultdict(list)
    for declaration in missing:
        by_site[declaration["site_id"]].append(declaration)
    for site_id, declarations in by_site.items():
        yield FindingSpec(
            kind=KIND_NEVER_REPORTED, severity=Severity.MEDIUM, subject_type=Subject.ORGANIZATION,
            subject_id=declarations[0]["licensed_end_user_id"],
            dedup_key=f"{KIND_NEVER_REPORTED}:site{site_id}",
            title=(f"{len(declarations)} GPU(s) declared at this site never reported, "
                   f"{settings.CHIPWATCH_VANISHED_AFTER_HOURS} h after their import"),
            citation=CITATION,
            figures={"site_id": site_id, "declarations": [
                {"id": d["id"], "gpu_uuid": d["gpu_uuid"], "serial": d["serial"],
                 "imported_at": d["imported_at"].isoformat()} for d in declarations]},
            organization_id=declarations[0]["licensed_end_user_id"],
        )


def _count_drops(host_ids: list[int] | None) -> Iterable[FindingSpec]:
    drops = [change for change in last_two_identities(host_ids) if change.latest_count < change.previous_count]
    places = host_places(change.host_id for change in drops)
    for change in drops:
        place = places[change.host_id]
        yield FindingSpec(
            kind=KIND_COUNT_DROP, severity=Severity.MEDIUM, subject_type=Subject.HOST, subject_id=change.host_id,
            dedup_key=f"{KIND_COUNT_DROP}:host{change.host_id}:observation{change.latest_id}",
            title=f"GPU count dropped from {change.previous_count} to {change.latest_count} between two full reports",
            citation=CITATION,
            observation_ids=change.observation_ids,
            figures={"previous_count": change.previous_count, "latest_count": change.latest_count,
                     "missing_uuids": sorted(change.previous_uuids - change.latest_uuids)},
            cluster_id=place.cluster_id, organization_id=place.operator_id,
        )


def _undeclared(host_ids: list[int] | None) -> Iterable[FindingSpec]:
    declaring = Declaration.objects.values("licensed_end_user_id")
    undeclared = (in_scope(Gpu.objects.filter(host__cluster__operator_id__in=declaring), host_ids)
                  .exclude(_DECLARED)
                  .values("host_id", "uuid", "last_observation_id", eccn=F("classification__eccn")))
    grouped = _by_host(undeclared)
    places = host_places(grouped)
    for host_id, gpus in grouped.items():
        place = places[host_id]
        controlled = [g["uuid"] for g in gpus if (g["eccn"] or "").startswith("3A090")]
        yield FindingSpec(
            kind=KIND_UNDECLARED, severity=Severity.HIGH if controlled else Severity.LOW,
            subject_type=Subject.HOST, subject_id=host_id,
            dedup_key=f"{KIND_UNDECLARED}:host{host_id}",
            title=(f"{len(gpus)} GPU(s) reporting here were never declared"
                   + (f", {len(controlled)} of them 3A090" if controlled else "")),
            citation=CITATION,
            observation_ids=tuple(g["last_observation_id"] for g in gpus if g["last_observation_id"]),
            figures={"gpu_uuids": sorted(g["uuid"] for g in gpus), "controlled_uuids": sorted(controlled)},
            cluster_id=place.cluster_id, organization_id=place.operator_id,
        )
