"""duplicate_identity: cloned GPU UUIDs and shared board serials, through the real ingest."""
import pytest

from compliance.models import Finding
from inventory.models import Gpu

from .conftest import answer, days_ago, findings, uuids_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_sites(fleet, sg_cluster):
    """The SG cluster, and a Malaysian cluster of the same operator."""
    my = fleet.cluster(fleet.site(sg_cluster.operator, "MY-1", "MY"), "my-train-1")
    return sg_cluster, my


def test_uuids_reported_from_two_sites_at_once_are_critical(fleet, two_sites):
    sg, my = two_sites
    licensed, clone = fleet.node(sg, "gpu-licensed"), fleet.node(my, "gpu-clone")
    snapshot = licensed.profile("hgx-h100")
    first = licensed.report(snapshot)
    cloned = clone.report(snapshot)
    again = licensed.report(snapshot)
    [finding] = findings("duplicate_identity.uuid")
    assert finding.severity == Finding.Severity.CRITICAL
    assert finding.subject_id == clone.host.id and finding.cluster_id == my.id
    # Each evaluation adds the last report of each host naming the GPUs: the clone's, and the holder's then.
    assert set(finding.evidence["observation_ids"]) == {first, cloned, again}
    figures = finding.evidence["figures"]
    assert figures["gpu_uuids"] == sorted(uuids_of(snapshot))
    assert {h["site_id"] for h in figures["hosts"]} == {sg.site_id, my.site_id}


def test_a_move_is_not_a_clone(fleet, two_sites):
    """The old host silent for longer than CHIPWATCH_GPU_RELEASE_AFTER_HOURS: the GPUs moved (relocation judges it)."""
    sg, my = two_sites
    old, new = fleet.node(sg, "gpu-old"), fleet.node(my, "gpu-new")
    snapshot = old.profile("hgx-h100")
    old.report(snapshot, when=days_ago(3))
    old.report(snapshot, when=days_ago(2))
    new.report(snapshot)
    new.report(snapshot)
    assert findings("duplicate_identity.uuid") == []
    assert set(Gpu.objects.filter(uuid__in=uuids_of(snapshot)).values_list("host_id", flat=True)) == {new.host.id}


def test_a_uuid_another_host_holds_is_not_moved(fleet, two_sites):
    sg, my = two_sites
    licensed, clone = fleet.node(sg, "gpu-licensed"), fleet.node(my, "gpu-clone")
    snapshot = licensed.profile("hgx-h100")
    licensed.report(snapshot)
    clone.report(snapshot)
    assert set(Gpu.objects.filter(uuid__in=uuids_of(snapshot)).values_list("host_id", flat=True)) == {
        licensed.host.id}
    assert set(Gpu.objects.filter(host=clone.host).values_list("reported_uuid", flat=True)) == set(uuids_of(snapshot))


def test_serial_shared_across_hosts_is_high(fleet, sg_cluster):
    first, second = fleet.node(sg_cluster, "gpu-a"), fleet.node(sg_cluster, "gpu-b")
    original = first.profile("hgx-h800")
    first_observation = first.report(original)
    [serial] = [c[2]["return"] for c in original["calls"] if c[0] == "nvmlDeviceGetSerial" and c[1][0]["$handle"] == 3]
    second_observation = second.report(answer(second.profile("hgx-h800"), "nvmlDeviceGetSerial", serial, gpus={5}))
    [finding] = findings("duplicate_identity.serial")
    assert finding.severity == Finding.Severity.HIGH
    assert finding.subject_id == second.host.id
    assert sorted(finding.evidence["observation_ids"]) == [first_observation, second_observation]
    assert {g["host_id"] for g in finding.evidence["figures"]["gpus"]} == {first.host.id, second.host.id}


def test_gpus_of_one_multi_gpu_board_may_share_its_serial(fleet, sg_cluster):
    node = fleet.node(sg_cluster, "gpu-superchip")
    snapshot = node.profile("hgx-b200")
    answer(snapshot, "nvmlDeviceGetSerial", "1654922000001", gpus={0, 1})
    answer(snapshot, "nvmlDeviceGetMultiGpuBoard", 1, gpus={0, 1})
    answer(snapshot, "nvmlDeviceGetBoardId", 7001, gpus={0, 1})
    node.report(snapshot)
    assert findings("duplicate_identity.serial") == []
    answer(snapshot, "nvmlDeviceGetMultiGpuBoard", 0, gpus={1})  # one of them denies the shared board
    node.report(snapshot)
    [finding] = findings("duplicate_identity.serial")
    assert finding.severity == Finding.Severity.MEDIUM
