"""Training runs per NVLink fabric as well as per cluster, on synthetic telemetry with known answers.

Four hosts of eight H800s report through the real ingest path; hosts a and b report one multi-node
fabric (the same NVLink fabric cluster UUID and clique), c and d another, so the cluster holds two
16-GPU fabrics (each host's GPUs are already joined through its NVSwitches).  Hours 3-7: hosts a
and c train — 16 training-like GPUs in the cluster, 8 in each fabric: a cluster run, no fabric run.
Hours 10-14: hosts a and b train — a cluster run and a run on fabric (a, b)."""
from datetime import timedelta

import pytest

from compliance.compute import model
from compliance.compute.selectors import gpu_fabrics
from compliance.compute.services import compute_rollup, training_runs_evaluate
from inventory.models import Gpu
from tests.detectors.conftest import share_fabric

from .conftest import T0, every, findings, history
from .test_runs import HOUR, small_runs  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
FIRST, SECOND = (T0 + 3 * HOUR, T0 + 7 * HOUR), (T0 + 10 * HOUR, T0 + 14 * HOUR)


def test_fabrics_are_connected_components():
    peers = {1: [("pci", "h1", "05")], 2: [("pci", "h1", "05")], 3: [("pci", "h1", "06")],
             4: [("clique", "u", 1)], 5: [("clique", "u", 1), ("pci", "h1", "06")], 6: []}
    assert model.fabrics(peers) == {1: 1, 2: 1, 3: 3, 4: 3, 5: 3}  # 6 shares nothing: in no fabric


@pytest.fixture
def two_fabrics(fleet, sg_cluster):
    nodes = {name: fleet.node(sg_cluster, f"fab-{name}") for name in "abcd"}
    donors = {"a": nodes["a"].profile("hgx-h800"), "c": nodes["c"].profile("hgx-h800")}
    for name, node in nodes.items():
        snapshot = share_fabric(node.profile("hgx-h800"), donors["a" if name in "ab" else "c"])
        node.report(snapshot, when=T0)
    return sg_cluster, nodes


def training(moment, host_name) -> int:
    if FIRST[0] < moment <= FIRST[1] and host_name in "ac":
        return 97
    if SECOND[0] < moment <= SECOND[1] and host_name in "ab":
        return 97
    return 5


def test_runs_per_cluster_and_per_fabric(two_fabrics):
    cluster, nodes = two_fabrics
    fabric_of = gpu_fabrics(cluster_ids=[cluster.id], min_gpus=16)
    ab = set(Gpu.objects.filter(host__in=[nodes["a"].host, nodes["b"].host]).values_list("id", flat=True))
    cd = set(Gpu.objects.filter(host__in=[nodes["c"].host, nodes["d"].host]).values_list("id", flat=True))
    assert {g: f for g, f in fabric_of.items() if g in ab} == dict.fromkeys(ab, min(ab))
    assert {g: f for g, f in fabric_of.items() if g in cd} == dict.fromkeys(cd, min(cd))
    assert gpu_fabrics(cluster_ids=[cluster.id], min_gpus=17) == {}  # too small to hold a run of 17

    moments = every(T0 + HOUR, minutes=5, count=15 * 12 + 1)
    for name, node in nodes.items():
        history(node, moments, util=lambda gpu, i, name=name: training(moments[i], name))
    compute_rollup(start=T0 + HOUR, end=T0 + 16 * HOUR)
    assert training_runs_evaluate(cluster_ids=[cluster.id], now=T0 + 17 * HOUR) == 3
    runs = {(f.evidence["figures"]["scope"]["kind"], f.evidence["figures"]["start"]): f.evidence["figures"]
            for f in findings("training_run")}
    assert set(runs) == {("cluster", FIRST[0].isoformat()), ("cluster", SECOND[0].isoformat()),
                         ("nvlink_fabric", SECOND[0].isoformat())}
    fabric_run = runs[("nvlink_fabric", SECOND[0].isoformat())]
    assert fabric_run["scope"] == {"kind": "nvlink_fabric", "fabric_lowest_gpu_id": min(ab), "fabric_gpus": 16}
    assert (fabric_run["end"], fabric_run["peak_gpus"], fabric_run["hours"]) == (SECOND[1].isoformat(), 16, 4)
    assert fabric_run["gpu_hours"] == pytest.approx(64)
    assert fabric_run["operations"] == runs[("cluster", SECOND[0].isoformat())]["operations"]


def test_no_fabric_rows_without_nvlink_peers(fleet, sg_cluster):
    """Hosts whose GPUs report no active link and no fabric: the cluster run only."""
    nodes = [fleet.node(sg_cluster, f"pcie-{n}") for n in range(2)]
    for node in nodes:
        snapshot = node.profile("hgx-h800")
        snapshot["calls"] = [c for c in snapshot["calls"] if c[0] not in (
            "nvmlDeviceGetGpuFabricInfoV", "nvmlDeviceGetNvLinkState", "nvmlDeviceGetNvLinkRemotePciInfo")]
        node.report(snapshot, when=T0)
    assert gpu_fabrics(cluster_ids=[sg_cluster.id], min_gpus=2) == {}
