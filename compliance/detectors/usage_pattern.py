"""usage_pattern — a cluster declared for inference that is used like a training cluster.

Pattern.  Over the last CHIPWATCH_USAGE_WINDOW_DAYS days, each GPU's daily mean utilization
(GpuSample, by the day the sample was collected) is computed; a day is "training-busy" when
at least CHIPWATCH_USAGE_GPU_SHARE of the cluster's reporting GPUs (and at least
CHIPWATCH_USAGE_MIN_GPUS of them) averaged CHIPWATCH_USAGE_UTILIZATION_PCT or more.  A
cluster declared for inference with at least CHIPWATCH_USAGE_BUSY_DAYS such days is flagged.
Inference load follows users and rarely holds most GPUs near full for weeks; large training
runs do.  The defaults (85 % on 80 % of GPUs for 14 of 21 days) are a starting point to tune.

Both aggregation levels run in the database: the per-GPU daily means are a Django queryset,
and the per-day share is one GROUP BY over it as a derived table.

Red flag.  Supp. No. 3 to part 732 red flag 28 (IaaS used to train an AI model for a party
outside the AIA countries, 90 FR 4544) and the IaaS red flags of BIS's May 13 2025 diversion
guidance ("customers masking end-use intentions", BIS, Industry Guidance to Prevent Diversion of Advanced Computing ICs, May 13 2025).  Utilization says nothing
about *whose* model is trained, so this is evidence for an inquiry, not a violation.

Evidence.  Per day: reporting GPUs and how many were busy; the busy-day count against the
thresholds; the latest observation of each host of the cluster in the window.

Severity.  Low, always: it is context for the other findings and for know-your-customer work.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Avg, F, Max
from django.db.models.functions import TruncDate
from django.utils import timezone

from inventory.models import Cluster, GpuSample, Host

from ..findings import FindingSpec
from ._fleet import Severity, Subject

KIND = "usage_pattern"
CITATION = ("15 CFR part 732 Supp. No. 3, red flag 28 (90 FR 4544, IaaS and AI model training); "
            "BIS diversion guidance of May 13 2025 (IaaS red flags)")


def detect(*, host_ids: list[int] | None) -> Iterable[FindingSpec]:
    since = timezone.now() - timedelta(days=settings.CHIPWATCH_USAGE_WINDOW_DAYS)
    samples = GpuSample.objects.filter(collected_at__gte=since, utilization_gpu_pct__isnull=False,
                                       host__cluster__declared_purpose=Cluster.Purpose.INFERENCE)
    if host_ids is not None:
        # Asked first, apart: most batches touch no inference cluster and then read no sample at all.
        clusters = set(Host.objects.filter(pk__in=host_ids, cluster__declared_purpose=Cluster.Purpose.INFERENCE)
                       .values_list("cluster_id", flat=True))
        if not clusters:
            return
        samples = samples.filter(host__cluster_id__in=clusters)
    busy_days = defaultdict(list)
    for cluster_id, day, gpus, busy in _busy_gpus_per_day(samples):
        if gpus >= settings.CHIPWATCH_USAGE_MIN_GPUS and busy >= gpus * settings.CHIPWATCH_USAGE_GPU_SHARE:
            busy_days[cluster_id].append({"day": str(day), "gpus": gpus, "busy_gpus": busy})
    flagged = {cluster_id: days for cluster_id, days in busy_days.items()
               if len(days) >= settings.CHIPWATCH_USAGE_BUSY_DAYS}
    if not flagged:
        return
    latest = defaultdict(list)
    for row in (samples.filter(host__cluster_id__in=flagged).values("host_id", "host__cluster_id")
                .annotate(observation_id=Max("observation_id"))):
        latest[row["host__cluster_id"]].append(row["observation_id"])
    operators = dict(Cluster.objects.filter(pk__in=flagged).values_list("id", "operator_id"))
    for cluster_id, days in flagged.items():
        yield FindingSpec(
            kind=KIND,
            severity=Severity.LOW,
            subject_type=Subject.CLUSTER,
            subject_id=cluster_id,
            dedup_key=f"{KIND}:cluster{cluster_id}",
            title=(f"Cluster declared for inference ran training-scale load on {len(days)} of the last "
                   f"{settings.CHIPWATCH_USAGE_WINDOW_DAYS} days"),
            citation=CITATION,
            observation_ids=tuple(latest[cluster_id]),
            figures={"busy_days": len(days), "days": sorted(days, key=lambda d: d["day"]),
                     "thresholds": {"utilization_pct": settings.CHIPWATCH_USAGE_UTILIZATION_PCT,
                                    "gpu_share": settings.CHIPWATCH_USAGE_GPU_SHARE,
                                    "min_gpus": settings.CHIPWATCH_USAGE_MIN_GPUS,
                                    "busy_days": settings.CHIPWATCH_USAGE_BUSY_DAYS,
                                    "window_days": settings.CHIPWATCH_USAGE_WINDOW_DAYS}},
            cluster_id=cluster_id,
            organization_id=operators[cluster_id],
        )


def _busy_gpus_per_day(samples) -> list[tuple]:
    """(cluster id, day, reporting GPUs, GPUs whose daily mean reached the busy level) rows.

    The ORM cannot group an aggregate again, so its per-GPU daily means become a derived
    table of one outer GROUP BY; Django writes the inner SQL for the backend in use.
    """
    daily_means = (samples.annotate(cluster=F("host__cluster_id"), day=TruncDate("collected_at"))
                   .values("cluster", "day", "gpu_id").annotate(mean=Avg("utilization_gpu_pct")))
    inner, params = daily_means.query.sql_with_params()
    cluster, day, mean = (connection.ops.quote_name(name) for name in ("cluster", "day", "mean"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {cluster}, {day}, COUNT(*), SUM(CASE WHEN {mean} >= %s THEN 1 ELSE 0 END) "
            f"FROM ({inner}) AS daily_means GROUP BY {cluster}, {day}",
            [settings.CHIPWATCH_USAGE_UTILIZATION_PCT, *params],
        )
        return cursor.fetchall()
