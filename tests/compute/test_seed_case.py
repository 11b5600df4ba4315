"""The seed case: DeepSeek-V3's reported training (2.788 M H800 GPU-hours on 2,048 GPUs, ~57
days; 37 B activated parameters x 14.8 T tokens, 6·N·D ≈ 3.3e24) replayed as telemetry.

Two hosts report through the real HTTP ingest (signed reports from the fake hgx-h800 NVML
profile, utilization 95 %, hours 0-2); the other 254 hosts and the rest of the 1,361 hours are
generated in PostgreSQL as Observation and GpuSample rows shaped as ingest writes them, one
sample per GPU an hour: 2.8 M rows (1-minute samples for 57 days would be 167 M).  Hourly
samples need a gap bound above an hour, set here; the estimate is linear in time, so with a
constant utilization the spacing does not change the answer.  The slowest test of the suite
(about three minutes on a 2-core machine, a third of it PostgreSQL checking the deferred
foreign keys of 2.8 M rows at rollback).  docs/compute-accounting.md shows the side-by-side.
"""
from __future__ import annotations

import base64
import os
from datetime import timedelta

import pytest
from compliance.compute.selectors import cluster_periods
from compliance.compute.services import compute_rollup, training_runs_evaluate
from compliance.models import Finding
from inventory.models import Agent, Gpu, GpuSample, Host, Observation

from . import bulk
from .conftest import T0, findings, h800_report

pytestmark = [pytest.mark.django_db, pytest.mark.integration]
HOURS = 1361  # 2,788,000 GPU-hours / 2,048 GPUs = 1,361.3 h
HOSTS = 256
UTILIZATION = 95
ENERGY_PER_HOUR_MJ = 2_520_000_000  # 700 W
SIX_N_D = 6 * 37e9 * 14.8e12
MARKER = "tests/compute seed case: generated beside ingest"


def generate_history(real_hosts: list[Host], cluster) -> None:
    """254 more hosts like the real ones, and hourly observations and samples for all 256."""
    template_host = real_hosts[0]
    template_gpus = list(Gpu.objects.filter(host=template_host).order_by("index"))
    host_fields = [f.attname for f in Host._meta.concrete_fields if not f.primary_key]
    hosts = Host.objects.bulk_create(
        Host(**{**{name: getattr(template_host, name) for name in host_fields},
                "hostname": f"h800-{n:03d}", "machine_id": f"{n:032x}", "needs_evaluation": None})
        for n in range(len(real_hosts), HOSTS))
    Agent.objects.bulk_create(Agent(host=h, public_key=base64.b64encode(os.urandom(32)).decode()) for h in hosts)
    gpu_fields = [f.attname for f in Gpu._meta.concrete_fields if not f.primary_key]
    Gpu.objects.bulk_create(
        Gpu(**{**{name: getattr(g, name) for name in gpu_fields}, "host_id": h.id,
               "uuid": f"GPU-{h.id:08d}-{g.index:04d}-4000-8000-000000000000", "serial": f"{h.id:09d}{g.index}",
               "fabric_cluster_uuid": f"{h.id:032x}"})  # each HGX host its own NVLink fabric, as reported
        for h in hosts for g in template_gpus)
    first_bulk_hour = {h.id: 3 for h in real_hosts}  # the real hosts posted hours 0, 1 and 2
    bulk.hourly_history(
        hosts=[(a.host_id, str(a.id), first_bulk_hour.get(a.host_id, 0)) for a in Agent.objects.filter(host__cluster=cluster)],
        start=T0, hours=HOURS, marker=MARKER, utilization_sql=str(UTILIZATION), energy_per_hour_mj=ENERGY_PER_HOUR_MJ,
        template_observation_id=Observation.objects.filter(host=template_host).order_by("id").first().id,
        template_sample_id=GpuSample.objects.filter(host=template_host).order_by("id").first().id)


def test_deepseek_v3_replayed(postgres_url, fleet, settings):
    settings.CHIPWATCH_COMPUTE_MAX_GAP_SECONDS = 2 * 3600  # hourly samples
    settings.CHIPWATCH_COMPUTE_ROLLUP_CHUNK_HOURS = HOURS  # a backfill: one pass over the whole period
    operator = fleet.org("Example AI Lab Hangzhou", "CN")
    cluster = fleet.cluster(fleet.site(operator, "HZ-1", "CN"), "h800-2048")
    real = [fleet.node(cluster, f"h800-{n:03d}") for n in range(2)]
    for node in real:
        for hour in range(3):
            h800_report(node, when=T0 + timedelta(hours=hour), util=UTILIZATION,
                        energy_mj=1_000_000_000 + hour * ENERGY_PER_HOUR_MJ)
    generate_history([node.host for node in real], cluster)
    assert GpuSample.objects.filter(host__cluster=cluster).count() == 2048 * (HOURS + 1)

    end = T0 + timedelta(hours=HOURS)
    compute_rollup(start=T0, end=end, cluster_ids=[cluster.id])
    rows = cluster_periods(cluster_id=cluster.id, start=T0, end=end, period="week")
    gpu_hours = sum(r.gpu_hours for r in rows)
    lower, upper = sum(r.ops.lower for r in rows), sum(r.ops.upper for r in rows)
    bf16_upper = sum(r.ops.by_precision["fp16"][0] for r in rows)
    assert gpu_hours == pytest.approx(2.788e6, rel=0.001)
    assert sum(r.energy_kwh for r in rows) == pytest.approx(2048 * HOURS * 0.7)
    assert lower < SIX_N_D < bf16_upper < upper
    assert {r.catalog_model for r in rows} == {"h800-sxm"}

    assert training_runs_evaluate(cluster_ids=[cluster.id], now=end) == 1
    [finding] = findings("training_run")
    figures = finding.evidence["figures"]
    assert (figures["peak_gpus"], figures["hours"]) == (2048, HOURS)
    assert (figures["start"], figures["end"]) == (T0.isoformat(), end.isoformat())
    assert figures["gpu_hours"] == pytest.approx(gpu_hours)
    assert figures["operations"]["lower"] < SIX_N_D < figures["operations"]["upper"]
    verdicts = {v["key"]: v["verdict"] for v in figures["thresholds"]}
    # 1e26: even the FP8 upper bound (~1.9e25) is below.  1e25: the range straddles it — the
    # telemetry cannot say, and says so.  The operator is headquartered in China (D:5).
    assert verdicts == {"eccn-4e091": "not_reached", "eu-ai-act-art-51": "undetermined",
                        "bis-iaas-d5-training": "applies"}
    assert finding.severity == Finding.Severity.HIGH
    print(f"\nseed case: {gpu_hours:,.0f} GPU-hours; operations {lower:.3g} (lower) .. {bf16_upper:.3g} "
          f"(BF16 upper) .. {upper:.3g} (FP8 upper); 6ND {SIX_N_D:.3g}")
