"""Retention of GpuSample history: months older than the kept window are exported to a gzip'd CSV,
recorded (SHA-256, rows, range) as an audited ArchivedPartition, then detached (dropped on request).

A month is refused while something retained still reads it: a look-back window of the detectors
or the compute rollup (they re-read samples at every run, so the findings of retained dates
are built from them), or an open finding citing its samples as evidence.  Audits as of retained
dates read Observation (never archived), findings and the rollup, not the raw samples, so
their hash is unchanged (tests/storage).
"""
from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from compliance.audit.services import audit_record, model_snapshot

from .. import partitions
from ..models import ArchivedPartition, GpuSample

_COPY_CHUNK = 1 << 20


class RetentionError(Exception):
    """Retention refused; nothing was exported or detached."""


@dataclass(frozen=True)
class RetentionPlan:
    cutoff: datetime  # partitions ending at or before this are archived
    partitions: list[partitions.Partition]


def longest_lookback() -> tuple[timedelta, str]:
    """The longest window any recurring computation reads samples back over, and its setting."""
    windows = {
        "CHIPWATCH_DETECTOR_LOOKBACK_HOURS": timedelta(hours=settings.CHIPWATCH_DETECTOR_LOOKBACK_HOURS),
        "CHIPWATCH_RELOCATION_LOOKBACK_DAYS": timedelta(days=settings.CHIPWATCH_RELOCATION_LOOKBACK_DAYS),
        "CHIPWATCH_TRAINING_LOOKBACK_DAYS": timedelta(days=settings.CHIPWATCH_TRAINING_LOOKBACK_DAYS),
        "CHIPWATCH_COMPUTE_ROLLUP_LOOKBACK_HOURS": timedelta(hours=settings.CHIPWATCH_COMPUTE_ROLLUP_LOOKBACK_HOURS),
    }
    name = max(windows, key=windows.get)
    return windows[name], name


def retention_plan(*, older_than_months: int, now: datetime | None = None) -> RetentionPlan:
    """The months to archive, or RetentionError naming what still needs them."""
    if not partitions.supported():
        raise RetentionError("retention needs PostgreSQL: on SQLite GpuSample is one table without partitions, "
                             "so there is nothing to detach (nothing was done)")
    if older_than_months < 1:
        raise RetentionError("--older-than-months must be at least 1")
    now = now or timezone.now()
    cutoff = partitions.add_months(partitions.month_start(now), -older_than_months)
    window, setting = longest_lookback()
    if cutoff > now - window:
        raise RetentionError(
            f"keeping {older_than_months} months keeps samples from {cutoff:%Y-%m-%d}, but {setting} reads back to "
            f"{now - window:%Y-%m-%d}: the findings of retained dates are computed from those samples; "
            f"keep more months")
    with connection.cursor() as cursor:
        if not partitions.is_partitioned(cursor):
            raise RetentionError(f"{partitions.PARENT} is not partitioned: run manage.py migrate")
        due = [p for p in partitions.attached(cursor) if p.end is not None and p.end <= cutoff]
    cited = _cited_by_open_findings(due)
    if cited:
        raise RetentionError("; ".join(f"{name} holds samples cited by open finding(s) {', '.join(map(str, ids))}"
                                       for name, ids in sorted(cited.items()))
                             + ": resolve them (or keep more months) first")
    return RetentionPlan(cutoff=cutoff, partitions=due)


def _cited_by_open_findings(due: list[partitions.Partition]) -> dict[str, list[int]]:
    """Partition name → ids of open findings whose evidence cites its samples."""
    from compliance.findings import OPEN_STATES
    from compliance.models import Finding

    if not due:
        return {}
    finding_of: dict[int, list[int]] = {}
    open_findings = Finding.objects.filter(status__in=OPEN_STATES, evidence__figures__has_key="sample_ids")
    for finding_id, sample_ids in open_findings.values_list("id", "evidence__figures__sample_ids"):
        for sample_id in sample_ids or ():
            if sample_id is not None:
                finding_of.setdefault(sample_id, []).append(finding_id)
    cited: dict[str, set[int]] = {}
    if finding_of:
        for sample_id, collected_at in GpuSample.objects.filter(pk__in=finding_of).values_list("id", "collected_at"):
            for partition in due:
                if partition.start <= collected_at < partition.end:
                    cited.setdefault(partition.name, set()).update(finding_of[sample_id])
    return {name: sorted(ids) for name, ids in cited.items()}


def partition_archive(*, partition: partitions.Partition, out_dir: Path, drop: bool) -> ArchivedPartition:
    """Export one partition, record it (audited) and detach it, in one transaction: the partition
    is locked against inserts from the first row exported until the detach commits."""
    path = out_dir / f"{partition.name}.csv.gz"
    if path.exists():
        raise RetentionError(f"{path} exists: an earlier export is never overwritten")
    partial = path.with_name(path.name + ".partial")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f'LOCK TABLE "{partition.name}" IN SHARE MODE')
            cursor.execute(f'SELECT count(*) FROM "{partition.name}"')
            rows = cursor.fetchone()[0]
            _copy_out(cursor, partition.name, partial)
            sha256, size = _sha256(partial), partial.stat().st_size
            os.replace(partial, path)
            partitions.detach(cursor, partition.name, drop=drop)
            archive = ArchivedPartition.objects.create(
                table=partitions.PARENT, partition=partition.name, range_start=partition.start,
                range_end=partition.end, rows=rows, file_name=path.name, file_bytes=size, sha256=sha256,
                dropped=drop, archived_at=timezone.now())
            audit_record(instance=archive, action="create", before=None, after=model_snapshot(archive))
    except BaseException:
        # The transaction was rolled back: the partition is attached and nothing was recorded.
        partial.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        raise
    return archive


def _copy_out(cursor, table: str, path: Path) -> None:
    # mtime=0: the same rows give the same file, so its SHA-256 is a function of the data.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        with cursor.copy(f'COPY (SELECT * FROM "{table}" ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)') as copy:
            for chunk in copy:
                out.write(chunk)
        out.close()
        raw.flush()
        os.fsync(raw.fileno())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
