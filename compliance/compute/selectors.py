"""Reads over the hourly rollup: periods (hour, day, week) per chip with their operations
range, a cluster's training-like hours, and the runs detected in them."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from django.conf import settings
from django.db.models import Max, Min, Sum
from django.db.models.functions import TruncDay, TruncHour, TruncWeek

from inventory.models import Gpu, NvLink

from ..core.catalog import UnknownChip, chip
from ..identify import identify
from ..models import Finding
from . import model
from .models import ComputeBucket, FabricComputeBucket
from .usage_sql import hourly_usage

PERIODS = {"hour": TruncHour, "day": TruncDay, "week": TruncWeek}
MODEL_STATEMENT = (
    "GPU-hours: time covered by samples, intervals longer than the gap bound excluded. Operations: for each "
    "precision, upper = utilization x dense peak x time (unknown utilization counted as busy), lower = the "
    "MFU floor x that (known utilization only); range = [BF16/FP16 lower, FP8 upper]. Utilization is NVML's "
    "duty cycle (share of time a kernel ran), not tensor-core occupancy, so the range is wide by design."
)
CAVEAT = "utilization is a duty cycle, not tensor-core occupancy"
PRECISION_CHOICES = model.PRECISIONS  # ?precision=: one catalog precision's bounds; omitted: the whole range


def accounting_rules() -> model.Rules:
    return model.Rules(max_gap_seconds=settings.CHIPWATCH_COMPUTE_MAX_GAP_SECONDS,
                       skew_tolerance_seconds=settings.CHIPWATCH_CLOCK_SKEW_SECONDS,
                       training_utilization_pct=settings.CHIPWATCH_TRAINING_UTILIZATION_PCT)


def rates_of(catalog_model: str) -> dict[str, float] | None:
    """Dense peak rates (TFLOPS) of a catalog entry; None when the chip is not catalogued."""
    if not catalog_model:
        return None
    try:
        return dict(chip(catalog_model).rates)
    except UnknownChip:
        return None


def ops_of(*, catalog_model: str, busy_seconds: float, unknown_util_seconds: float) -> model.OpsRange:
    return model.estimate_ops(busy_seconds=busy_seconds, unknown_util_seconds=unknown_util_seconds,
                              rates_tflops=rates_of(catalog_model), mfu_floor=settings.CHIPWATCH_COMPUTE_MFU_FLOOR)


@dataclass(frozen=True)
class PeriodRow:
    start: datetime
    chip_name: str
    catalog_model: str
    peak_gpus: int
    gpu_hours: float
    busy_gpu_hours: float
    unknown_util_hours: float
    energy_kwh: float
    counter_resets: int
    gaps: int
    skew_corrected: int
    samples: int
    first_sample_id: int | None
    last_sample_id: int | None
    ops: model.OpsRange


def cluster_periods(*, cluster_id: int, start: datetime, end: datetime, period: str = "week") -> list[PeriodRow]:
    """Per period and chip, from one GROUP BY over the hourly rollup."""
    trunc = PERIODS[period]
    rows = (ComputeBucket.objects.filter(cluster_id=cluster_id, start__gte=start, start__lt=end)
            .annotate(period=trunc("start")).values("period", "chip_name", "catalog_model")
            .annotate(peak_gpus=Max("gpus"), gpu_seconds=Sum("gpu_seconds"), busy=Sum("busy_gpu_seconds"),
                      unknown=Sum("unknown_util_seconds"), energy=Sum("energy_j"), resets=Sum("counter_resets"),
                      gaps=Sum("gaps"), corrected=Sum("skew_corrected"), samples=Sum("samples"), first=Min("first_sample_id"),
                      last=Max("last_sample_id"))
            .order_by("period", "chip_name"))
    return [PeriodRow(start=r["period"], chip_name=r["chip_name"], catalog_model=r["catalog_model"],
                      peak_gpus=r["peak_gpus"], gpu_hours=r["gpu_seconds"] / 3600, busy_gpu_hours=r["busy"] / 3600,
                      unknown_util_hours=r["unknown"] / 3600, energy_kwh=r["energy"] / 3.6e6,
                      counter_resets=r["resets"], gaps=r["gaps"], skew_corrected=r["corrected"], samples=r["samples"],
                      first_sample_id=r["first"], last_sample_id=r["last"],
                      ops=ops_of(catalog_model=r["catalog_model"], busy_seconds=r["busy"],
                                 unknown_util_seconds=r["unknown"]))
            for r in rows]


def catalog_model_of(*, chip_name: str, pci_device_id: int | None) -> str:
    """The catalog key a reported chip maps to; '' when none matches (the rollup stores it)."""
    match = identify(pci_device_id=pci_device_id, name=chip_name or None)
    return match.chip.key if match.chip else ""


def hours_of(buckets) -> list[model.Hour]:
    """(start, catalog model, training sums) rows → one Hour per start, chips summed (operations per
    chip first).  Rows are rollup buckets, or raw usage rows for an audit date."""
    by_hour: dict[datetime, list] = defaultdict(list)
    for start, catalog_model, usage in buckets:
        if usage.training_gpus:
            by_hour[start].append((catalog_model, usage))
    hours = []
    for moment, rows in sorted(by_hour.items()):
        ops = model.NO_OPS
        for catalog_model, u in rows:
            ops = ops + ops_of(catalog_model=catalog_model, busy_seconds=u.training_busy_seconds,
                               unknown_util_seconds=u.training_unknown_seconds)
        firsts = [u.first_sample_id for _, u in rows if u.first_sample_id is not None]
        lasts = [u.last_sample_id for _, u in rows if u.last_sample_id is not None]
        hours.append(model.Hour(start=moment, training_gpus=sum(u.training_gpus for _, u in rows),
                                training_gpu_seconds=sum(u.training_gpu_seconds for _, u in rows), ops=ops,
                                first_sample_id=min(firsts, default=None), last_sample_id=max(lasts, default=None)))
    return hours


def training_hours(*, cluster_id: int, start: datetime, end: datetime) -> list[model.Hour]:
    """The cluster's hours with any training-like GPU, from the rollup."""
    buckets = (ComputeBucket.objects.filter(cluster_id=cluster_id, start__gte=start, start__lt=end, training_gpus__gt=0)
               .only("start", "catalog_model", "training_gpus", "training_gpu_seconds", "training_busy_seconds",
                     "training_unknown_seconds", "first_sample_id", "last_sample_id"))
    return hours_of((b.start, b.catalog_model, b) for b in buckets)


def detect(hours: list[model.Hour]) -> list[model.Run]:
    """Runs in a cluster's hours, with the CHIPWATCH_TRAINING_* bar."""
    return model.detect_runs(hours, min_gpus=settings.CHIPWATCH_TRAINING_MIN_GPUS,
                             min_hours=settings.CHIPWATCH_TRAINING_MIN_HOURS,
                             max_interruption_hours=settings.CHIPWATCH_TRAINING_MAX_INTERRUPTION_HOURS)


def training_runs(*, cluster_id: int, start: datetime, end: datetime) -> list[model.Run]:
    return detect(training_hours(cluster_id=cluster_id, start=start, end=end))


def gpu_fabrics(*, cluster_ids: list[int] | None, min_gpus: int) -> dict[int, int]:
    """GPU id → NVLink fabric (its lowest GPU id) for the fabrics of at least `min_gpus` GPUs within one
    cluster, from the current topology: each GPU's own PCI address, the addresses its active links reach
    (a GPU or an NVSwitch of the same host) and its multi-node fabric clique (nvmlDeviceGetGpuFabricInfo).
    A fabric spanning clusters is split per cluster (compliance.detectors.aggregation reports the span)."""
    gpus = Gpu.objects.filter(host__cluster__isnull=False)
    links = NvLink.objects.filter(state="active", gpu__host__cluster__isnull=False).exclude(remote_pci_bus_id="")
    if cluster_ids is not None:
        gpus, links = gpus.filter(host__cluster_id__in=cluster_ids), links.filter(gpu__host__cluster_id__in=cluster_ids)
    peers: dict[int, list] = {}
    cluster_of = {}
    for gpu_id, host_id, cluster_id, bus, fabric_uuid, clique in gpus.values_list(
            "id", "host_id", "host__cluster_id", "pci_bus_id", "fabric_cluster_uuid", "fabric_clique_id"):
        cluster_of[gpu_id] = cluster_id
        peers[gpu_id] = [("pci", cluster_id, host_id, bus.upper())] if bus else []
        if fabric_uuid.strip("0-"):
            peers[gpu_id].append(("clique", cluster_id, fabric_uuid, clique))
    for gpu_id, host_id, remote_bus in links.values_list("gpu_id", "gpu__host_id", "remote_pci_bus_id"):
        peers[gpu_id].append(("pci", cluster_of[gpu_id], host_id, remote_bus.upper()))
    fabric_of = model.fabrics(peers)
    sizes: dict[int, int] = defaultdict(int)
    for fabric in fabric_of.values():
        sizes[fabric] += 1
    return {gpu_id: fabric for gpu_id, fabric in fabric_of.items() if sizes[fabric] >= min_gpus}


def fabric_training_runs(*, cluster_id: int, start: datetime, end: datetime) -> list[tuple[int, int, model.Run]]:
    """(fabric, its GPU count, run) for the runs placed on one NVLink fabric of the cluster."""
    by_fabric: dict[int, list] = defaultdict(list)
    for bucket in FabricComputeBucket.objects.filter(cluster_id=cluster_id, start__gte=start, start__lt=end,
                                                     training_gpus__gt=0).order_by("fabric", "start"):
        by_fabric[bucket.fabric].append(bucket)
    return [(fabric, max(b.fabric_gpus for b in buckets), run) for fabric, buckets in sorted(by_fabric.items())
            for run in detect(hours_of((b.start, b.catalog_model, b) for b in buckets))]


def clusters_with_training_hours(*, since: datetime) -> list[int]:
    """Clusters that had at least CHIPWATCH_TRAINING_MIN_GPUS training-like GPUs in some hour since `since`."""
    return sorted({row["cluster_id"] for row in (
        ComputeBucket.objects.filter(start__gte=since).values("cluster_id", "start")
        .annotate(gpus=Sum("training_gpus")).filter(gpus__gte=settings.CHIPWATCH_TRAINING_MIN_GPUS))})


def whole_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def hours_between(start: datetime, end: datetime, step_hours: int):
    """[a, b) chunks of at most `step_hours` covering [start, end)."""
    cursor = start
    while cursor < end:
        following = min(cursor + timedelta(hours=step_hours), end)
        yield cursor, following
        cursor = following


def run_dedup_key(*, cluster_id: int, run: model.Run, fabric: int | None = None) -> str:
    """The finding a detected run is raised as (one per cluster, or fabric, and start hour)."""
    scope = f"cluster{cluster_id}" if fabric is None else f"cluster{cluster_id}:fabric{fabric}"
    return f"training_run:{scope}:{run.start:%Y%m%dT%H}"


def bounds(ops: model.OpsRange, precision: str | None) -> tuple[float, float | None]:
    """(lower, upper) operations: one precision's, or with ``precision=None`` the range over both."""
    if precision is None:
        return ops.lower, ops.upper
    upper, lower = ops.by_precision.get(precision, (0.0, 0.0))
    return lower, None if ops.upper is None else upper


def _sum_upper(values) -> float | None:
    values = list(values)
    return None if any(v is None for v in values) else sum(values)


def _model_rows(rows: list[PeriodRow], precision: str | None) -> list[dict]:
    """One entry per chip model over `rows` (periods summed)."""
    by_chip: dict[tuple[str, str], list[PeriodRow]] = defaultdict(list)
    for row in rows:
        by_chip[(row.chip_name, row.catalog_model)].append(row)
    out = []
    for (chip_name, catalog_model), group in sorted(by_chip.items()):
        ops = model.NO_OPS
        for row in group:
            ops = ops + row.ops
        lower, upper = bounds(ops, precision)
        firsts = [r.first_sample_id for r in group if r.first_sample_id is not None]
        lasts = [r.last_sample_id for r in group if r.last_sample_id is not None]
        out.append({"chip_name": chip_name, "catalog_model": catalog_model or None,
                    "gpu_hours": sum(r.gpu_hours for r in group), "energy_kwh": sum(r.energy_kwh for r in group),
                    "ops_lower": lower, "ops_upper": upper, "samples": sum(r.samples for r in group),
                    "first_sample_id": min(firsts, default=None), "last_sample_id": max(lasts, default=None)})
    return out


def _run_entry(run: model.Run, precision: str | None, finding_id: int | None, fabric: int | None = None,
               fabric_gpus: int | None = None) -> dict:
    lower, upper = bounds(run.ops, precision)
    return {"scope": "cluster" if fabric is None else "nvlink_fabric", "fabric": fabric, "fabric_gpus": fabric_gpus,
            "start": run.start.isoformat(), "end": run.end.isoformat(), "hours": run.hours,
            "peak_gpus": run.peak_gpus, "min_gpus": run.min_gpus, "gpu_hours": run.gpu_hours,
            "ops_lower": lower, "ops_upper": upper,
            "first_sample_id": run.first_sample_id, "last_sample_id": run.last_sample_id, "finding_id": finding_id}


def thresholds_listed() -> list[dict]:
    return [{"key": t.key, "kind": t.kind, "title": t.title, "citation": t.citation, "status": t.status,
             "effective": t.effective.isoformat(), "value": t.value, "note": t.note} for t in model.load_thresholds()]


def cluster_compute(*, cluster_id: int, start: datetime, end: datetime, precision: str | None = None) -> dict:
    """A cluster's compute over [start, end) from the rollup: per week and chip model, per model,
    totals, the detected runs (with their findings) and the thresholds they are compared with.

    Four queries whatever the period: the weekly GROUP BY, the cluster's and its fabrics'
    training hours, the runs' findings; nothing per row.  The samples that fed a row are the cluster's samples of
    that period, counted, with the lowest and highest GpuSample id among them."""
    rows = cluster_periods(cluster_id=cluster_id, start=start, end=end, period="week")
    table = []
    for row in rows:
        lower, upper = bounds(row.ops, precision)
        table.append({"week": row.start.date().isoformat(), "chip_name": row.chip_name,
                      "catalog_model": row.catalog_model or None, "peak_gpus": row.peak_gpus,
                      "gpu_hours": row.gpu_hours, "busy_gpu_hours": row.busy_gpu_hours,
                      "unknown_util_hours": row.unknown_util_hours, "energy_kwh": row.energy_kwh,
                      "ops_lower": lower, "ops_upper": upper, "samples": row.samples,
                      "first_sample_id": row.first_sample_id, "last_sample_id": row.last_sample_id,
                      "counter_resets": row.counter_resets, "gaps": row.gaps, "skew_corrected": row.skew_corrected})
    weeks = []
    for week in sorted({r["week"] for r in table}):
        entries = [r for r in table if r["week"] == week]
        weeks.append({"week": week, "gpu_hours": sum(r["gpu_hours"] for r in entries),
                      "energy_kwh": sum(r["energy_kwh"] for r in entries),
                      "ops_lower": sum(r["ops_lower"] for r in entries),
                      "ops_upper": _sum_upper(r["ops_upper"] for r in entries),
                      "samples": sum(r["samples"] for r in entries)})
    keys = {run_dedup_key(cluster_id=cluster_id, run=run): (run, None, None)
            for run in training_runs(cluster_id=cluster_id, start=start, end=end)}
    keys.update({run_dedup_key(cluster_id=cluster_id, run=run, fabric=fabric): (run, fabric, size)
                 for fabric, size, run in fabric_training_runs(cluster_id=cluster_id, start=start, end=end)})
    finding_of = dict(Finding.objects.filter(dedup_key__in=list(keys)).values_list("dedup_key", "id")) if keys else {}
    by_model = _model_rows(rows, precision)
    return {
        "cluster_id": cluster_id, "start": start.isoformat(), "end": end.isoformat(),
        "precision": precision or "range",
        "model": MODEL_STATEMENT, "caveat": CAVEAT,
        "totals": {"gpu_hours": sum(m["gpu_hours"] for m in by_model),
                   "energy_kwh": sum(m["energy_kwh"] for m in by_model),
                   "ops_lower": sum(m["ops_lower"] for m in by_model),
                   "ops_upper": _sum_upper(m["ops_upper"] for m in by_model),
                   "samples": sum(m["samples"] for m in by_model)},
        "weeks": weeks, "by_model": by_model, "rows": table,
        "runs": [_run_entry(run, precision, finding_of.get(key), fabric, size)
                 for key, (run, fabric, size) in keys.items()],
        "thresholds": thresholds_listed(),
    }


def _rounded(value: float | None) -> float | None:
    """Nine significant digits: a float sum's last bits depend on the database's summation order,
    and an audit's hash must not."""
    return None if value is None else float(f"{value:.9g}")


def compute_as_of(*, cluster_id: int, as_of: date, received_by: datetime) -> dict:
    """The audit report's compute: the CHIPWATCH_TRAINING_LOOKBACK_DAYS ending with day `as_of`,
    from the samples the server had received by `received_by` (the end of that day) — not from
    the rollup, which later samples update — so the same date always gives the same figures."""
    end = datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=timezone.utc)
    start = end - timedelta(days=settings.CHIPWATCH_TRAINING_LOOKBACK_DAYS)
    usage = hourly_usage(start=start, end=end, rules=accounting_rules(), cluster_ids=[cluster_id],
                         received_by=received_by,
                         max_clock_ahead_seconds=settings.CHIPWATCH_COMPUTE_MAX_CLOCK_AHEAD_SECONDS)
    names = {(r.chip_name, r.pci_device_id): catalog_model_of(chip_name=r.chip_name, pci_device_id=r.pci_device_id)
             for r in usage}
    by_model: dict[str, dict] = {}
    for row in usage:
        catalog_model = names[(row.chip_name, row.pci_device_id)]
        u = row.usage
        entry = by_model.setdefault(row.chip_name, {"catalog_model": catalog_model or None, "gpu_seconds": 0.0,
                                                    "energy_j": 0.0, "samples": 0, "ops": model.NO_OPS})
        entry["gpu_seconds"] += u.gpu_seconds
        entry["energy_j"] += u.energy_j
        entry["samples"] += u.samples
        entry["ops"] = entry["ops"] + ops_of(catalog_model=catalog_model, busy_seconds=u.busy_gpu_seconds,
                                             unknown_util_seconds=u.unknown_util_seconds)
    total = model.NO_OPS
    models = []
    for chip_name, entry in sorted(by_model.items()):
        total = total + entry["ops"]
        models.append({"chip_name": chip_name, "catalog_model": entry["catalog_model"],
                       "gpu_hours": _rounded(entry["gpu_seconds"] / 3600),
                       "energy_kwh": _rounded(entry["energy_j"] / 3.6e6), "samples": entry["samples"],
                       "ops_lower": _rounded(entry["ops"].lower), "ops_upper": _rounded(entry["ops"].upper)})
    runs = detect(hours_of((r.start, names[(r.chip_name, r.pci_device_id)], r.usage) for r in usage))
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "samples_received_by": received_by.isoformat(),
        "gpu_hours": _rounded(sum(m["gpu_hours"] for m in models)),
        "ops_lower": _rounded(total.lower), "ops_upper": _rounded(total.upper),
        "by_model": models,
        "runs": [{"start": run.start.isoformat(), "end": run.end.isoformat(), "hours": run.hours,
                  "peak_gpus": run.peak_gpus, "gpu_hours": _rounded(run.gpu_hours),
                  "ops_lower": _rounded(run.ops.lower), "ops_upper": _rounded(run.ops.upper),
                  "first_sample_id": run.first_sample_id, "last_sample_id": run.last_sample_id} for run in runs],
        "model": MODEL_STATEMENT,
        "thresholds": [{"key": t["key"], "value": t["value"], "status": t["status"], "citation": t["citation"]}
                       for t in thresholds_listed() if t["kind"] == "operations"],
    }
