"""Monthly RANGE partitions of the GpuSample history on PostgreSQL (SQLite: one plain table).

GpuSample is the bulk of the history (one row per GPU per report) and every query over it is
bounded by ``collected_at`` (usage_pattern, the compute rollup), so it is partitioned by month
on that column: a month is exported, detached and dropped as a whole instead of deleted row
by row.  A DEFAULT partition takes what no month holds (a clock years off, a month already
archived), so an insert is never refused.  Observation is not partitioned (docs/storage.md).

Everything here is DDL and catalog reads; inventory.services.retention decides what to archive.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from django.db import connection

PARENT = "inventory_gpusample"
DEFAULT = f"{PARENT}_default"
KEY = "collected_at"
BRIN_INDEX = f"{PARENT}_collected_brin"
MONTHS_AHEAD = 3

_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime | None  # None: the DEFAULT partition
    end: datetime | None


def supported() -> bool:
    return connection.vendor == "postgresql"


def month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=timezone.utc)


def add_months(month: datetime, months: int) -> datetime:
    index = month.year * 12 + month.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)


def month_name(month: datetime) -> str:
    return f"{PARENT}_p{month:%Y_%m}"


def is_partitioned(cursor) -> bool:
    cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s))", [PARENT])
    return cursor.fetchone()[0]


def attached(cursor) -> list[Partition]:
    """The partitions attached now, months in order, DEFAULT last."""
    cursor.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = to_regclass(%s)", [PARENT])
    months, default = [], []
    for name, bound in cursor.fetchall():
        match = _BOUND.search(bound)
        if match is None:
            default.append(Partition(name, None, None))
        else:
            start, end = (datetime.fromisoformat(value).astimezone(timezone.utc) for value in match.groups())
            months.append(Partition(name, start, end))
    return sorted(months, key=lambda p: p.start) + default


def month_create(cursor, month: datetime) -> bool:
    """Attach the partition of ``month`` unless one covers it; False when it already existed.

    Rows of that month already in DEFAULT (a clock ahead of the calendar) are moved into the new
    partition in the same transaction, DEFAULT locked against inserts until it ends: PostgreSQL
    refuses a new partition whose rows DEFAULT still holds.  Inserts into the months are not blocked.
    """
    end = add_months(month, 1)
    # Locked before looking: two beat runs at once see each other's partition instead of colliding.
    cursor.execute(f'LOCK TABLE "{DEFAULT}" IN EXCLUSIVE MODE')
    if any(p.start is not None and p.start < end and month < p.end for p in attached(cursor)):
        return False
    name = month_name(month)
    cursor.execute(f'CREATE TABLE "{name}" (LIKE "{PARENT}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
    where = f'"{KEY}" >= %s AND "{KEY}" < %s'
    cursor.execute(f'INSERT INTO "{name}" SELECT * FROM "{DEFAULT}" WHERE {where}', [month, end])
    cursor.execute(f'DELETE FROM "{DEFAULT}" WHERE {where}', [month, end])
    # Attaching clones the parent's indexes (BRIN included) and foreign keys onto the new table.
    cursor.execute(f'ALTER TABLE "{PARENT}" ATTACH PARTITION "{name}" FOR VALUES FROM (%s) TO (%s)', [month, end])
    return True


def create_ahead(*, now: datetime, months: int = MONTHS_AHEAD) -> list[str]:
    """Partitions for the current month and the next ``months``; the names created (idempotent)."""
    if not supported():
        return []
    created = []
    with connection.cursor() as cursor:
        if not is_partitioned(cursor):
            return []
        for offset in range(months + 1):
            month = add_months(month_start(now), offset)
            if month_create(cursor, month):
                created.append(month_name(month))
    return created


def detach(cursor, name: str, *, drop: bool) -> None:
    cursor.execute(f'ALTER TABLE "{PARENT}" DETACH PARTITION "{name}"')
    if drop:
        cursor.execute(f'DROP TABLE "{name}"')

