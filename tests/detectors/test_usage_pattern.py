"""usage_pattern: an inference cluster running training-scale load for weeks."""
from datetime import timedelta

import pytest

from compliance.models import Finding
from inventory.models import Cluster, GpuSample

from .conftest import answer, findings

pytestmark = pytest.mark.django_db

BUSY = {"$struct": "c_nvmlUtilization_t", "fields": {"gpu": 97, "memory": 60}}


def weeks_of_load(fleet, cluster, history_days: int) -> int:
    """Today's report goes through the real ingest (97 % on 8 GPUs); the `history_days` before it
    are copied from its samples.  Weeks of daily signed reports would cost seconds per test for
    nothing the detector reads: it reads only GpuSample.  Returns today's observation id."""
    node = fleet.node(cluster, "gpu-busy")
    observation_id = node.report(answer(node.profile("hgx-h100"), "nvmlDeviceGetUtilizationRates", BUSY))
    today = list(GpuSample.objects.filter(observation_id=observation_id))
    GpuSample.objects.bulk_create(
        GpuSample(observation_id=observation_id, gpu_id=s.gpu_id, host_id=s.host_id,
                  collected_at=s.collected_at - timedelta(days=day), utilization_gpu_pct=s.utilization_gpu_pct)
        for day in range(1, history_days + 1) for s in today)
    node.report(answer(node.profile("hgx-h100"), "nvmlDeviceGetUtilizationRates", BUSY))
    return observation_id


@pytest.fixture
def inference_cluster(fleet, sg_cluster):
    return fleet.cluster(sg_cluster.site, "sg-infer-1", purpose=Cluster.Purpose.INFERENCE)


def test_inference_cluster_busy_for_fifteen_days(fleet, inference_cluster):
    weeks_of_load(fleet, inference_cluster, history_days=14)
    [finding] = findings("usage_pattern")
    assert finding.severity == Finding.Severity.LOW
    assert finding.subject_type == "cluster" and finding.cluster_id == inference_cluster.id
    latest = GpuSample.objects.filter(host__cluster=inference_cluster).latest("observation_id").observation_id
    assert finding.evidence["observation_ids"] == [latest]
    assert finding.evidence["figures"]["busy_days"] == 15
    assert all(d["busy_gpus"] == 8 for d in finding.evidence["figures"]["days"])


def test_near_miss_thirteen_busy_days(fleet, inference_cluster):
    weeks_of_load(fleet, inference_cluster, history_days=12)
    assert findings("usage_pattern") == []


def test_near_miss_a_training_cluster_may_be_busy(fleet, sg_cluster):
    weeks_of_load(fleet, sg_cluster, history_days=20)
    assert findings("usage_pattern") == []
