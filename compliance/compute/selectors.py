"""Reads over the hourly rollup: periods (hour, day, week) per chip with their operations
range, a cluster's training-like hours, and the runs detected in them."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max, Min, Sum
from django.db.models.functions import TruncDay, TruncHour, TruncWeek

from ..core.catalog import UnknownChip, chip
from . import model
from .models import ComputeBucket

PERIODS = {"hour": TruncHour, "day": TruncDay, "week": TruncWeek}
MODEL_STATEMENT = (
    "GPU-hours: time covered by samples, intervals longer than the gap bound excluded. Operations: for each "
    "precision, upper = utilization x dense peak x time (unknown utilization counted as busy), lower = the "
    "MFU floor x that (known utilization only); range = [BF16/FP16 lower, FP8 upper]. Utilization is NVML's "
    "duty cycle (share of time a kernel ran), not tensor-core occupancy, so the range is wide by design."
)


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
                      gaps=Sum("gaps"), corrected=Sum("skew_corrected"), first=Min("first_sample_id"),
                      last=Max("last_sample_id"))
            .order_by("period", "chip_name"))
    return [PeriodRow(start=r["period"], chip_name=r["chip_name"], catalog_model=r["catalog_model"],
                      peak_gpus=r["peak_gpus"], gpu_hours=r["gpu_seconds"] / 3600, busy_gpu_hours=r["busy"] / 3600,
                      unknown_util_hours=r["unknown"] / 3600, energy_kwh=r["energy"] / 3.6e6,
                      counter_resets=r["resets"], gaps=r["gaps"], skew_corrected=r["corrected"],
                      first_sample_id=r["first"], last_sample_id=r["last"],
                      ops=ops_of(catalog_model=r["catalog_model"], busy_seconds=r["busy"],
                                 unknown_util_seconds=r["unknown"]))
            for r in rows]


def training_hours(*, cluster_id: int, start: datetime, end: datetime) -> list[model.Hour]:
    """The cluster's hours with any training-like GPU, chips summed (operations per chip first)."""
    by_hour: dict[datetime, list] = defaultdict(list)
    for bucket in (ComputeBucket.objects.filter(cluster_id=cluster_id, start__gte=start, start__lt=end,
                                                training_gpus__gt=0)
                   .only("start", "catalog_model", "training_gpus", "training_gpu_seconds", "training_busy_seconds",
                         "training_unknown_seconds", "first_sample_id", "last_sample_id")):
        by_hour[bucket.start].append(bucket)
    hours = []
    for moment, buckets in sorted(by_hour.items()):
        ops = model.NO_OPS
        for b in buckets:
            ops = ops + ops_of(catalog_model=b.catalog_model, busy_seconds=b.training_busy_seconds,
                               unknown_util_seconds=b.training_unknown_seconds)
        firsts = [b.first_sample_id for b in buckets if b.first_sample_id is not None]
        lasts = [b.last_sample_id for b in buckets if b.last_sample_id is not None]
        hours.append(model.Hour(start=moment, training_gpus=sum(b.training_gpus for b in buckets),
                                training_gpu_seconds=sum(b.training_gpu_seconds for b in buckets), ops=ops,
                                first_sample_id=min(firsts, default=None), last_sample_id=max(lasts, default=None)))
    return hours


def training_runs(*, cluster_id: int, start: datetime, end: datetime) -> list[model.Run]:
    return model.detect_runs(training_hours(cluster_id=cluster_id, start=start, end=end),
                             min_gpus=settings.CHIPWATCH_TRAINING_MIN_GPUS,
                             min_hours=settings.CHIPWATCH_TRAINING_MIN_HOURS,
                             max_interruption_hours=settings.CHIPWATCH_TRAINING_MAX_INTERRUPTION_HOURS)


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
