"""Training-run detection end to end: rollup → runs → a finding with evidence, thresholds and
the IaaS red flag, through the beat task; and the near misses that must stay quiet."""
from datetime import timedelta

import pytest

from compliance.compute.services import compute_rollup, training_runs_evaluate
from compliance.compute.tasks import rollup_recent
from compliance.models import Finding
from inventory.models import GpuSample, Organization
from tests.detectors.conftest import at

from .conftest import T0, every, findings, h800_report, history

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)
RUN_START, RUN_END = T0 + 3 * HOUR, T0 + 7 * HOUR


@pytest.fixture(autouse=True)
def small_runs(settings):
    settings.CHIPWATCH_TRAINING_MIN_GPUS = 16
    settings.CHIPWATCH_TRAINING_MIN_HOURS = 3
    settings.CHIPWATCH_TRAINING_UTILIZATION_PCT = 80
    settings.CHIPWATCH_TRAINING_MAX_INTERRUPTION_HOURS = 0
    settings.CHIPWATCH_COMPUTE_MAX_GAP_SECONDS = 300


def busy_between(moment, gpu=None, lazy_gpu=None):
    """97 % for the intervals starting in [RUN_START, RUN_END) (the reading closes its interval), 5 % else."""
    if lazy_gpu is not None and gpu.index == lazy_gpu:
        return 50
    return 97 if RUN_START < moment <= RUN_END else 5


def two_hosts(fleet, cluster, *, lazy_gpu=None):
    moments = every(T0 + HOUR, minutes=5, count=8 * 12 + 1)
    for name in ("h800-1", "h800-2"):
        node = fleet.node(cluster, f"{cluster.name}-{name}")
        h800_report(node, when=T0)
        history(node, moments, util=lambda gpu, i: busy_between(moments[i], gpu, lazy_gpu if name == "h800-2" else None))
    compute_rollup(start=T0 + HOUR, end=T0 + 9 * HOUR)


def test_run_detected_with_exact_window_and_evidence(fleet, sg_cluster):
    two_hosts(fleet, sg_cluster)
    assert training_runs_evaluate(cluster_ids=[sg_cluster.id], now=T0 + 10 * HOUR) == 1
    [finding] = findings("training_run")
    figures = finding.evidence["figures"]
    assert (figures["start"], figures["end"]) == (RUN_START.isoformat(), RUN_END.isoformat())
    assert (figures["hours"], figures["peak_gpus"], figures["min_gpus"]) == (4, 16, 16)
    assert figures["gpu_hours"] == pytest.approx(64)
    busy_seconds = 0.97 * 64 * 3600
    assert figures["operations"]["by_precision"]["fp16"]["upper"] == pytest.approx(989.4e12 * busy_seconds)
    assert figures["operations"]["lower"] == pytest.approx(0.15 * 989.4e12 * busy_seconds)
    assert figures["operations"]["upper"] == pytest.approx(1978.9e12 * busy_seconds)
    first, last = figures["sample_ids"]
    window = GpuSample.objects.filter(host__cluster=sg_cluster, collected_at__gte=RUN_START,
                                      collected_at__lte=RUN_END)
    assert first == min(s.id for s in window) and last == max(s.id for s in window)
    assert finding.evidence["observation_ids"] == sorted(
        {GpuSample.objects.get(pk=first).observation_id, GpuSample.objects.get(pk=last).observation_id})
    verdicts = {v["key"]: v for v in figures["thresholds"]}
    assert verdicts["eccn-4e091"]["verdict"] == "not_reached" and verdicts["eccn-4e091"]["status"] == "not_enforced"
    assert verdicts["eu-ai-act-art-51"]["verdict"] == "not_reached"
    assert verdicts["bis-iaas-d5-training"]["verdict"] == "not_indicated"
    assert finding.severity == Finding.Severity.LOW and finding.cluster_id == sg_cluster.id
    assert "duty cycle" in figures["model"] and "90 FR 4544" in finding.citation


def test_near_miss_one_gpu_short_of_the_bar(fleet, sg_cluster):
    two_hosts(fleet, sg_cluster, lazy_gpu=3)
    assert training_runs_evaluate(cluster_ids=[sg_cluster.id], now=T0 + 10 * HOUR) == 0
    assert findings("training_run") == []


def test_near_miss_too_short(fleet, sg_cluster, settings):
    settings.CHIPWATCH_TRAINING_MIN_HOURS = 5
    two_hosts(fleet, sg_cluster)
    assert training_runs_evaluate(cluster_ids=[sg_cluster.id], now=T0 + 10 * HOUR) == 0


def test_d5_headquartered_operator_is_the_iaas_red_flag(fleet):
    operator = fleet.org("Example Compute Beijing", "CN")
    cluster = fleet.cluster(fleet.site(operator, "BJ-1", "CN"), "bj-train-1")
    two_hosts(fleet, cluster)
    training_runs_evaluate(cluster_ids=[cluster.id], now=T0 + 10 * HOUR)
    [finding] = findings("training_run")
    [flag] = [v for v in finding.evidence["figures"]["thresholds"] if v["key"] == "bis-iaas-d5-training"]
    assert flag["verdict"] == "applies" and "CN" in flag["reason"]
    assert finding.severity == Finding.Severity.HIGH


def test_cloud_provider_customer_is_undetermined(fleet):
    operator = fleet.org("Example Cloud SG", "SG")
    operator.kind = Organization.Kind.CLOUD_PROVIDER
    operator.save()
    cluster = fleet.cluster(fleet.site(operator, "SG-2", "SG"), "sg-cloud-1")
    two_hosts(fleet, cluster)
    training_runs_evaluate(cluster_ids=[cluster.id], now=T0 + 10 * HOUR)
    [finding] = findings("training_run")
    [flag] = [v for v in finding.evidence["figures"]["thresholds"] if v["key"] == "bis-iaas-d5-training"]
    assert flag["verdict"] == "undetermined" and "customer" in flag["reason"]
    assert finding.severity == Finding.Severity.MEDIUM


def test_beat_task_rolls_up_and_raises(fleet, sg_cluster):
    moments = every(T0 + HOUR, minutes=5, count=8 * 12 + 1)
    for name in ("h800-1", "h800-2"):
        node = fleet.node(sg_cluster, name)
        h800_report(node, when=T0)
        history(node, moments, util=lambda gpu, i: busy_between(moments[i]))
    with at(T0 + 9 * HOUR + timedelta(minutes=30)):
        assert rollup_recent.delay().get() == 1
        assert rollup_recent.delay().get() == 1  # seen again: the same finding refreshed
    [finding] = findings("training_run")
    assert finding.occurrences == 2
