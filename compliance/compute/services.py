"""Writes of compute accounting: the hourly rollup, and training runs raised as findings."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inventory.models import Cluster, GpuSample, Organization

from ..core.destinations import default_destinations
from ..findings import FindingSpec, finding_raise
from ..models import Finding
from ..selectors import families
from . import model, selectors
from .models import ComputeBucket, FabricComputeBucket
from .selectors import accounting_rules
from .usage_sql import hourly_usage

RUN_KIND = "training_run"
RUN_CITATION = ("docs/compute-accounting.md (estimate model); thresholds: 90 FR 4544 ECCN 4E091 (not enforced), "
                "Regulation (EU) 2024/1689 Art. 51(2), BIS IaaS guidance of May 13 2025")


def compute_rollup(*, start: datetime, end: datetime, cluster_ids: list[int] | None = None) -> int:
    """Replace the rollup of the hours in [start, end) (whole hours): per cluster, and per NVLink
    fabric large enough to hold a run (fabrics from the current topology).  One aggregate query
    (two where such fabrics exist) and one transaction per CHIPWATCH_COMPUTE_ROLLUP_CHUNK_HOURS.
    Returns the cluster rows written."""
    rules, written, names = accounting_rules(), 0, {}
    fabric_of = selectors.gpu_fabrics(cluster_ids=cluster_ids, min_gpus=settings.CHIPWATCH_TRAINING_MIN_GPUS)
    fabric_gpus = Counter(fabric_of.values())

    def fields(row, now) -> dict:
        key = (row.chip_name, row.pci_device_id)
        if key not in names:
            names[key] = selectors.catalog_model_of(chip_name=row.chip_name, pci_device_id=row.pci_device_id)
        return dict(cluster_id=row.cluster_id, start=row.start, chip_name=row.chip_name,
                    pci_device_id=row.pci_device_id, catalog_model=names[key], computed_at=now, **vars(row.usage))

    for chunk_start, chunk_end in selectors.hours_between(start, end, settings.CHIPWATCH_COMPUTE_ROLLUP_CHUNK_HOURS):
        usage = dict(start=chunk_start, end=chunk_end, rules=rules, cluster_ids=cluster_ids,
                     max_clock_ahead_seconds=settings.CHIPWATCH_COMPUTE_MAX_CLOCK_AHEAD_SECONDS)
        now = timezone.now()
        buckets = [ComputeBucket(**fields(row, now)) for row in hourly_usage(**usage)]
        fabric_buckets = [FabricComputeBucket(fabric=row.fabric, fabric_gpus=fabric_gpus[row.fabric], **fields(row, now))
                          for row in (hourly_usage(**usage, fabric_of=fabric_of) if fabric_of else ())]
        with transaction.atomic():
            for table, rows in ((ComputeBucket, buckets), (FabricComputeBucket, fabric_buckets)):
                stale = table.objects.filter(start__gte=chunk_start, start__lt=chunk_end)
                if cluster_ids is not None:
                    stale = stale.filter(cluster_id__in=cluster_ids)
                stale.delete()
                table.objects.bulk_create(rows, batch_size=2000)
        written += len(buckets)
    return written


def compute_rollup_recent(*, now: datetime | None = None) -> int:
    """The beat's rollup: the look-back hours up to the current one, then run detection for the
    clusters that had training-scale hours in them.  Returns the findings raised or refreshed."""
    now = now or timezone.now()
    end = selectors.whole_hour(now) + timedelta(hours=1)
    start = end - timedelta(hours=settings.CHIPWATCH_COMPUTE_ROLLUP_LOOKBACK_HOURS + 1)
    compute_rollup(start=start, end=end)
    return training_runs_evaluate(cluster_ids=selectors.clusters_with_training_hours(since=start), now=now)


def training_runs_evaluate(*, cluster_ids: list[int], now: datetime | None = None) -> int:
    """Raise (or refresh) one finding per training run detected in each cluster's look-back."""
    now = now or timezone.now()
    since = selectors.whole_hour(now) - timedelta(days=settings.CHIPWATCH_TRAINING_LOOKBACK_DAYS)
    clusters = Cluster.objects.filter(pk__in=cluster_ids).select_related("operator", "site")
    family_of = families() if cluster_ids else {}
    raised = 0
    for cluster in clusters:
        window = dict(cluster_id=cluster.id, start=since, end=now + timedelta(hours=1))
        scoped = [(run, None, None) for run in selectors.training_runs(**window)]
        scoped += [(run, fabric, size) for fabric, size, run in selectors.fabric_training_runs(**window)]
        for run, fabric, size in scoped:
            finding_raise(spec=run_finding(cluster=cluster, run=run, family=family_of[cluster.operator_id],
                                           fabric=fabric, fabric_gpus=size))
            raised += 1
    return raised


def threshold_verdicts(*, run: model.Run, cluster: Cluster, family) -> list[dict]:
    """Each cited threshold against the run: operations ranges and the D:5/Macau IaaS red flag."""
    destinations, out = default_destinations(), []
    for threshold in model.load_thresholds():
        entry = {"key": threshold.key, "title": threshold.title, "citation": threshold.citation,
                 "status": threshold.status, "effective": threshold.effective.isoformat(), "note": threshold.note}
        if threshold.kind == "operations":
            entry.update(value=threshold.value, verdict=str(threshold.compare(run.ops)))
        else:
            on = run.start.date()
            hq = next((code for code in (family.headquarters, family.ultimate_parent_hq)
                       if destinations.in_any(code, threshold.groups, on)), None)
            if hq is not None:
                entry.update(verdict="applies", reason=f"the operator or its ultimate parent is headquartered in {hq}")
            elif cluster.operator.kind == Organization.Kind.CLOUD_PROVIDER:
                entry.update(verdict=str(model.Verdict.UNDETERMINED),
                             reason="the operator is a cloud provider; whose model was trained (the customer) "
                                    "is not in the telemetry")
            else:
                entry.update(verdict="not_indicated",
                             reason="operator and ultimate parent are headquartered outside D:5/Macau; whose "
                                    "model was trained is not known from telemetry")
        entry["in_force_at_start"] = threshold.status == "in_force" and threshold.effective <= run.start.date()
        out.append(entry)
    return out


def run_finding(*, cluster: Cluster, run: model.Run, family, fabric: int | None = None,
                fabric_gpus: int | None = None) -> FindingSpec:
    """A run on the whole cluster, or (`fabric`) on one NVLink fabric of it: a tightly coupled job."""
    verdicts = threshold_verdicts(run=run, cluster=cluster, family=family)
    red_flag = {v["verdict"] for v in verdicts if v["key"] == "bis-iaas-d5-training" and v["in_force_at_start"]}
    enforced_reached = any(v["verdict"] == model.Verdict.EXCEEDED and v["in_force_at_start"] for v in verdicts)
    severity = (Finding.Severity.HIGH if "applies" in red_flag else
                Finding.Severity.MEDIUM if model.Verdict.UNDETERMINED in red_flag or enforced_reached else
                Finding.Severity.LOW)
    observation_ids = list(GpuSample.objects.filter(pk__in=[i for i in (run.first_sample_id, run.last_sample_id)
                                                             if i is not None]).values_list("observation_id", flat=True))
    upper = "unbounded" if run.ops.upper is None else f"{run.ops.upper:.2g}"
    where = "" if fabric is None else f" in one NVLink fabric of {fabric_gpus} GPUs"
    return FindingSpec(
        kind=RUN_KIND,
        severity=severity,
        subject_type=Finding.Subject.CLUSTER,
        subject_id=cluster.id,
        dedup_key=selectors.run_dedup_key(cluster_id=cluster.id, run=run, fabric=fabric),
        title=(f"Training run{where}: {run.peak_gpus} GPUs for {run.hours} h from {run.start:%Y-%m-%d %H:00} UTC, "
               f"{run.gpu_hours:,.0f} GPU-hours, {run.ops.lower:.2g}–{upper} operations"),
        citation=RUN_CITATION,
        observation_ids=tuple(observation_ids),
        figures={
            "scope": {"kind": "cluster"} if fabric is None else {
                "kind": "nvlink_fabric", "fabric_lowest_gpu_id": fabric, "fabric_gpus": fabric_gpus},
            "start": run.start.isoformat(), "end": run.end.isoformat(), "hours": run.hours,
            "peak_gpus": run.peak_gpus, "min_gpus": run.min_gpus, "gpu_hours": run.gpu_hours,
            "operations": run.ops.as_dict(), "sample_ids": [run.first_sample_id, run.last_sample_id],
            "thresholds": verdicts, "model": selectors.MODEL_STATEMENT,
            "provenance": "reported (NVML utilization and energy; the host owner can forge them)",
            "settings": {"min_gpus": settings.CHIPWATCH_TRAINING_MIN_GPUS,
                         "utilization_pct": settings.CHIPWATCH_TRAINING_UTILIZATION_PCT,
                         "min_hours": settings.CHIPWATCH_TRAINING_MIN_HOURS,
                         "max_interruption_hours": settings.CHIPWATCH_TRAINING_MAX_INTERRUPTION_HOURS,
                         "mfu_floor": settings.CHIPWATCH_COMPUTE_MFU_FLOOR,
                         "max_gap_seconds": settings.CHIPWATCH_COMPUTE_MAX_GAP_SECONDS},
        },
        cluster_id=cluster.id,
        organization_id=cluster.operator_id,
    )
