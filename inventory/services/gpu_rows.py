"""Which GPU rows a report may write: the one place the tenant rule for GPUs lives.

A report signed by a host's agent writes only that host's rows (docs/security.md):

* a UUID no row holds, or one this host holds, is the row itself; so is one another host of
  the same tenant (the same operator family) released — its last full report no longer listed
  it, or it has not reported it for CHIPWATCH_GPU_RELEASE_AFTER_HOURS (a card moved between two
  hosts of one operator; ``relocation`` judges the move from the samples);
* a UUID another host holds, or one last held in another tenant, is never moved: the report
  writes a row of its own, keyed by host, marked ``held_elsewhere`` with the reported UUID, so
  the GPU still counts for this host and ``duplicate_identity`` raises the conflict to both
  organizations;
* a GPU whose UUID NVML could not read (a marker) gets a row keyed by host and index, marked
  ``unreadable``: it counts (by its reported model, else as unidentified), never as absent.

Ingest (and any faster rewrite of it) must take the rows to write from ``gpu_rows_plan``
and the telemetry targets from ``telemetry_rows`` (``lean_telemetry_rows`` for a lean report);
none returns another host's row.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F

from ..models import Gpu, Host
from ..selectors import organization_family_ids


@dataclass(frozen=True)
class GpuRow:
    """One reported GPU section and the row it is written to."""

    key: str  # Gpu.uuid of the row
    status: str  # Gpu.UuidStatus
    reported_uuid: str  # the reported UUID when another host holds it, else ""
    section: dict
    existing: Gpu | None  # the row when it exists (always this host's, or released within the tenant)


def unreadable_key(host_id: int, index: int) -> str:
    return f"unreadable:host{host_id}:gpu{index}"


def held_elsewhere_key(host_id: int, reported_uuid: str) -> str:
    return f"held-elsewhere:host{host_id}:{hashlib.sha256(reported_uuid.encode()).hexdigest()[:32]}"


def gpu_rows_plan(*, host: Host, sections: list[dict], now: datetime) -> list[GpuRow]:
    """The row each reported GPU section goes to (one per key, the last section wins)."""
    readable = {s["uuid"] for s in sections if isinstance(s["uuid"], str)}
    candidates = (readable | {held_elsewhere_key(host.pk, u) for u in readable}
                  | {unreadable_key(host.pk, s["index"]) for s in sections if not isinstance(s["uuid"], str)})
    rows = {g.uuid: g for g in Gpu.objects.filter(uuid__in=candidates).annotate(
        last_reported_by=F("last_observation__host_id"))}
    tenant = _Tenant(host, now)
    plan: dict[str, GpuRow] = {}
    for section in sections:
        reported = section["uuid"]
        if not isinstance(reported, str):
            key = unreadable_key(host.pk, section["index"])
            plan[key] = GpuRow(key, Gpu.UuidStatus.UNREADABLE, "", section, rows.get(key))
            continue
        row = rows.get(reported)
        if row is None or row.host_id == host.pk or tenant.may_take(row):
            plan[reported] = GpuRow(reported, Gpu.UuidStatus.REPORTED, "", section, row)
        else:
            key = held_elsewhere_key(host.pk, reported)
            plan[key] = GpuRow(key, Gpu.UuidStatus.HELD_ELSEWHERE, reported, section, rows.get(key))
    return list(plan.values())


def telemetry_rows(*, host: Host, plan: list[GpuRow] | None, ids: dict[str, int] | None = None) -> dict[str, int]:
    """Reported UUID → id of this host's row, for storing telemetry samples.

    From the plan just applied (a full report, ``ids`` = row key → id) or, for a lean report,
    from the rows on this host.  Telemetry whose UUID is unreadable names no row: it stays in
    the raw payload only."""
    if plan is not None:
        return {row.reported_uuid or row.key: ids[row.key] for row in plan if row.status != Gpu.UuidStatus.UNREADABLE}
    return {reported_uuid or key: pk for key, reported_uuid, pk in Gpu.objects.filter(host=host).exclude(
        uuid_status=Gpu.UuidStatus.UNREADABLE).values_list("uuid", "reported_uuid", "id")}


def lean_telemetry_rows(*, host: Host, now: datetime) -> dict[str, int]:
    """``telemetry_rows`` for a lean report, marking the host's GPUs seen in the same statement
    (UPDATE … RETURNING: one round trip instead of a SELECT and an UPDATE)."""
    gpu = Gpu._meta
    columns = {name: connection.ops.quote_name(gpu.get_field(name).column)
               for name in ("id", "uuid", "reported_uuid", "host", "uuid_status", "last_seen")}
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(gpu.db_table)} SET {columns['last_seen']} = %s"
            f" WHERE {columns['host']} = %s AND {columns['uuid_status']} <> %s"
            f" RETURNING {columns['uuid']}, {columns['reported_uuid']}, {columns['id']}",
            [gpu.get_field("last_seen").get_db_prep_save(now, connection), host.pk, Gpu.UuidStatus.UNREADABLE])
        return {reported_uuid or key: pk for key, reported_uuid, pk in cursor.fetchall()}


class _Tenant:
    """The reporting host's tenant (its operator's family), computed only when a row asks."""

    def __init__(self, host: Host, now: datetime):
        self.host = host
        self.silent_since = now - timedelta(hours=settings.CHIPWATCH_GPU_RELEASE_AFTER_HOURS)
        self._family: set[int] | None = None

    def may_take(self, row: Gpu) -> bool:
        """A row another host held: released (or silent) and last held within this tenant."""
        if row.host_id is not None and row.last_seen >= self.silent_since:
            return False
        previous_host_id = row.host_id or row.last_reported_by
        if previous_host_id == self.host.pk:
            return True
        if previous_host_id is None or self.host.cluster_id is None:
            return False
        previous_operator = Host.objects.filter(pk=previous_host_id).values_list(
            "cluster__operator_id", flat=True).first()
        return previous_operator is not None and previous_operator in self._operator_family()

    def _operator_family(self) -> set[int]:
        if self._family is None:
            self._family = organization_family_ids([self.host.cluster.operator_id])
        return self._family
