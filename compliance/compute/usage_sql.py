"""The rollup's one aggregate query: GpuSample rows of a time range → hourly usage per cluster
and reported chip, with the accounting rules of compliance/compute/model.py done set-wise.

A window function (LAG over each GPU's samples in placed-time order) pairs every sample with
the one before it; two GROUP BYs sum the intervals per GPU and hour, then per cluster, hour
and chip.  The database does the work; Python only maps the handful of result rows.  Written
for PostgreSQL and SQLite: only the epoch and floor expressions differ.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from django.db import connection

from inventory.models import Host

from .model import BUCKET_SECONDS, Rules, Usage

_EPOCH = {
    "postgresql": "date_part('epoch', {})",
    # strftime('%s') drops the fraction; '%f' gives seconds with milliseconds ('%%': the
    # query goes through the driver's parameter formatting).
    "sqlite": "(CAST(strftime('%%s', {0}) AS INTEGER) - CAST(strftime('%%S', {0}) AS INTEGER)"
              " + CAST(strftime('%%f', {0}) AS REAL))",
}
_BUCKET = {
    "postgresql": "floor({0} / {1}) * {1}",
    "sqlite": "(CAST({0} AS INTEGER) / {1}) * {1}",
}

# GPU id → fabric (the fabric's lowest GPU id) as a JSON object parameter, for the per-fabric rollup.
_FABRICS = {
    "postgresql": "SELECT key::bigint AS gpu_id, value::bigint AS fabric FROM jsonb_each_text(%s::jsonb)",
    "sqlite": "SELECT CAST(key AS INTEGER) AS gpu_id, CAST(value AS INTEGER) AS fabric FROM json_each(%s)",
}

_SQL = """
WITH placed AS (
  SELECT s.id, s.gpu_id, s.host_id, s.utilization_gpu_pct AS util, s.energy_mj AS energy,
         CASE WHEN {collected} > {received} + {tolerance} THEN {received} ELSE {collected} END AS placed_at,
         CASE WHEN {collected} > {received} + {tolerance} THEN 1 ELSE 0 END AS corrected
  FROM inventory_gpusample s
  JOIN inventory_observation o ON o.id = s.observation_id
  WHERE s.collected_at >= %s AND s.collected_at < %s
    AND {hosts}{received_by}
), paired AS (
  SELECT placed.*, LAG(placed_at) OVER w AS prev_at, LAG(energy) OVER w AS prev_energy, LAG(id) OVER w AS prev_id
  FROM placed WINDOW w AS (PARTITION BY gpu_id ORDER BY placed_at, id)
), intervals AS (
  SELECT gpu_id, host_id, id, prev_id, util, energy, prev_energy, corrected,
         placed_at - prev_at AS dt, {bucket} AS bucket,
         CASE WHEN placed_at - prev_at > 0 AND placed_at - prev_at <= {gap} THEN 1 ELSE 0 END AS counted
  FROM paired WHERE prev_at >= {start} AND prev_at < {end}
), per_gpu AS (
  SELECT gpu_id, host_id, bucket,
    SUM(counted) AS samples,
    SUM(CASE WHEN counted = 1 THEN dt ELSE 0 END) AS gpu_seconds,
    SUM(CASE WHEN counted = 1 AND util IS NOT NULL THEN dt * util / 100.0 ELSE 0 END) AS busy,
    SUM(CASE WHEN counted = 1 AND util IS NULL THEN dt ELSE 0 END) AS unknown,
    SUM(CASE WHEN counted = 1 AND energy IS NOT NULL AND prev_energy IS NOT NULL THEN
          CASE WHEN energy >= prev_energy THEN energy - prev_energy ELSE energy END ELSE 0 END) / 1000.0 AS energy_j,
    SUM(CASE WHEN counted = 1 AND energy < prev_energy THEN 1 ELSE 0 END) AS resets,
    SUM(CASE WHEN dt > {gap} THEN 1 ELSE 0 END) AS gaps,
    SUM(CASE WHEN dt > {gap} THEN dt ELSE 0 END) AS gap_seconds,
    SUM(corrected) AS corrected,
    MIN(CASE WHEN prev_id < id THEN prev_id ELSE id END) AS first_id,
    MAX(CASE WHEN prev_id > id THEN prev_id ELSE id END) AS last_id
  FROM intervals GROUP BY gpu_id, host_id, bucket
)
SELECT h.cluster_id, {fabric}, p.bucket, g.name, g.pci_device_id,
  SUM(CASE WHEN samples > 0 THEN 1 ELSE 0 END), SUM(samples), SUM(gpu_seconds), SUM(busy), SUM(unknown),
  SUM(energy_j), SUM(resets), SUM(gaps), SUM(gap_seconds), SUM(corrected),
  SUM(CASE WHEN busy >= {training} THEN 1 ELSE 0 END),
  SUM(CASE WHEN busy >= {training} THEN gpu_seconds ELSE 0 END),
  SUM(CASE WHEN busy >= {training} THEN busy ELSE 0 END),
  SUM(CASE WHEN busy >= {training} THEN unknown ELSE 0 END),
  MIN(first_id), MAX(last_id)
FROM per_gpu p JOIN inventory_gpu g ON g.id = p.gpu_id JOIN inventory_host h ON h.id = p.host_id{fabric_join}
GROUP BY h.cluster_id, {fabric}, p.bucket, g.name, g.pci_device_id
ORDER BY h.cluster_id, {fabric}, p.bucket, g.name, g.pci_device_id
"""


@dataclass(frozen=True)
class UsageRow:
    cluster_id: int
    start: datetime
    chip_name: str
    pci_device_id: int | None
    usage: Usage
    fabric: int | None = None


def hourly_usage(*, start: datetime, end: datetime, rules: Rules, max_clock_ahead_seconds: float,
                 cluster_ids: list[int] | None = None, received_by: datetime | None = None,
                 fabric_of: dict[int, int] | None = None) -> list[UsageRow]:
    """Usage of the intervals starting in [start, end), per cluster, hour and chip; one query.

    With ``fabric_of`` (GPU id → fabric), only those GPUs, per cluster, fabric, hour and chip.

    ``start``/``end`` must be whole hours.  ``received_by`` keeps only samples the server had
    received by then (a reproducible answer for an audit date).  Samples whose agent clock is
    more than ``max_clock_ahead_seconds`` ahead fall outside the fetched range and are not
    counted (the telemetry_integrity detector flags such clocks).
    """
    sql, params = usage_query(start=start, end=end, rules=rules, max_clock_ahead_seconds=max_clock_ahead_seconds,
                              cluster_ids=cluster_ids, received_by=received_by, fabric_of=fabric_of)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [UsageRow(cluster_id=row[0], fabric=row[1], start=datetime.fromtimestamp(float(row[2]), tz=timezone.utc),
                     chip_name=row[3], pci_device_id=row[4], usage=_usage(row[5:])) for row in rows]


def usage_query(*, start: datetime, end: datetime, rules: Rules, max_clock_ahead_seconds: float,
                cluster_ids: list[int] | None = None, received_by: datetime | None = None,
                fabric_of: dict[int, int] | None = None) -> tuple[str, list]:
    """The SQL and parameters of hourly_usage (bench/compute_rollup.py explains it)."""
    if start.timestamp() % BUCKET_SECONDS or end.timestamp() % BUCKET_SECONDS:
        raise ValueError("start and end must be whole hours")
    vendor = connection.vendor
    epoch, bucket = _EPOCH[vendor], _BUCKET[vendor]
    adapt = connection.ops.adapt_datetimefield_value
    params = [adapt(start), adapt(end + timedelta(seconds=rules.max_gap_seconds + max_clock_ahead_seconds))]
    hosts = Host.objects.filter(cluster__isnull=False)
    if cluster_ids is not None:
        hosts = hosts.filter(cluster_id__in=cluster_ids)
    inner, inner_params = hosts.values("id").query.sql_with_params()
    params.extend(inner_params)
    received = ""
    if received_by is not None:
        received = " AND o.received_at <= %s"
        params.append(adapt(received_by))
    fabric, fabric_join = "CAST(NULL AS BIGINT)", ""
    if fabric_of is not None:
        fabric, fabric_join = "f.fabric", f" JOIN ({_FABRICS[vendor]}) f ON f.gpu_id = p.gpu_id"
        params.append(json.dumps({str(gpu): fab for gpu, fab in fabric_of.items()}))
    sql = _SQL.format(
        collected=epoch.format("s.collected_at"), received=epoch.format("o.received_at"),
        tolerance=float(rules.skew_tolerance_seconds), received_by=received,
        hosts=f"s.host_id IN ({inner})", bucket=bucket.format("prev_at", BUCKET_SECONDS),
        gap=float(rules.max_gap_seconds), start=float(start.timestamp()), end=float(end.timestamp()),
        training=float(rules.training_utilization_pct) / 100 * BUCKET_SECONDS, fabric=fabric, fabric_join=fabric_join,
    )
    return sql, params


def _usage(values) -> Usage:
    (gpus, samples, gpu_seconds, busy, unknown, energy_j, resets, gaps, gap_seconds, corrected, training_gpus,
     training_seconds, training_busy, training_unknown, first_id, last_id) = values
    return Usage(gpus=int(gpus), samples=int(samples), gpu_seconds=float(gpu_seconds), busy_gpu_seconds=float(busy),
                 unknown_util_seconds=float(unknown), energy_j=float(energy_j), counter_resets=int(resets),
                 gaps=int(gaps), gap_seconds=float(gap_seconds), skew_corrected=int(corrected),
                 training_gpus=int(training_gpus), training_gpu_seconds=float(training_seconds),
                 training_busy_seconds=float(training_busy), training_unknown_seconds=float(training_unknown),
                 first_sample_id=first_id, last_sample_id=last_id)
