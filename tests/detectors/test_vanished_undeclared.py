"""vanished_undeclared: declared GPUs gone silent, GPU counts dropping, GPUs never declared."""
import pytest

from compliance.detectors import run_detectors
from compliance.models import Finding
from inventory.services.declarations import declarations_import

from .conftest import answer, at, days_ago, findings, uuids_of

pytestmark = pytest.mark.django_db


def declare(cluster, uuids):
    rows = "".join(f"{u},,{cluster.operator.name},{cluster.site.name},L-1\n" for u in uuids)
    declarations_import(data=("gpu_uuid,serial,licensed_end_user,site,license_number\n" + rows).encode(),
                        source_name="declared.csv")


@pytest.mark.parametrize("silent_days, raised", [(5, True), (1, False)])
def test_declared_gpus_silent_beyond_the_threshold(fleet, sg_cluster, silent_days, raised):
    node = fleet.node(sg_cluster, "gpu-declared")
    snapshot = node.profile("hgx-h800")
    with at(days_ago(silent_days + 1)):
        declare(sg_cluster, uuids_of(snapshot))
    observation_id = node.report(snapshot, when=days_ago(silent_days))
    run_detectors(host_ids=None)
    silent = findings("vanished_undeclared.silent")
    if not raised:
        assert silent == []
        return
    [finding] = silent
    assert finding.severity == Finding.Severity.HIGH and finding.subject_id == node.host.id
    assert finding.evidence["observation_ids"] == [observation_id]
    assert [g["uuid"] for g in finding.evidence["figures"]["gpus"]] == sorted(uuids_of(snapshot))


def test_declared_gpus_never_reported(fleet, sg_cluster):
    with at(days_ago(4)):
        declare(sg_cluster, ["GPU-00000000-0000-4000-8000-00000000dead"])
    run_detectors(host_ids=None)
    [finding] = findings("vanished_undeclared.never_reported")
    assert finding.severity == Finding.Severity.MEDIUM
    assert finding.evidence["figures"]["declarations"][0]["gpu_uuid"].endswith("dead")


def test_gpu_count_drop_between_full_reports(fleet, sg_cluster):
    node = fleet.node(sg_cluster, "gpu-shrinking")
    snapshot = node.profile("hgx-h100")
    before = node.report(snapshot)
    after = node.report(answer(snapshot, "nvmlDeviceGetCount", 7))
    [finding] = findings("vanished_undeclared.count_drop")
    assert finding.severity == Finding.Severity.MEDIUM
    assert finding.evidence["observation_ids"] == [before, after]
    assert finding.evidence["figures"]["missing_uuids"] == [uuids_of(snapshot)[7]]


def test_near_miss_a_gpu_fallen_off_the_bus_is_still_counted(fleet, sg_cluster):
    node = fleet.node(sg_cluster, "gpu-xid79")
    snapshot = node.profile("hgx-h100")
    node.report(snapshot)
    for call in snapshot["calls"]:
        if call[0] == "nvmlDeviceGetUUID" and call[1][0]["$handle"] == 5:
            call[2] = {"error": 15}  # NVML_ERROR_GPU_IS_LOST
    node.report(snapshot)
    assert findings("vanished_undeclared.count_drop") == []


def test_undeclared_gpus_only_where_the_operator_declares(fleet, sg_cluster):
    declared, undeclared = fleet.node(sg_cluster, "gpu-declared"), fleet.node(sg_cluster, "gpu-undeclared")
    snapshot = declared.profile("hgx-h100")
    declare(sg_cluster, uuids_of(snapshot))
    declared.report(snapshot)
    observation_id = undeclared.report("hgx-h100")
    other_operator = fleet.cluster(fleet.site(fleet.org("No Declarations Ltd", "SG"), "SG-9", "SG"), "sg-9")
    fleet.node(other_operator, "gpu-elsewhere").report("hgx-h100")
    [finding] = findings("vanished_undeclared.undeclared")
    assert finding.severity == Finding.Severity.HIGH and finding.subject_id == undeclared.host.id
    assert finding.evidence["observation_ids"] == [observation_id]
    assert len(finding.evidence["figures"]["controlled_uuids"]) == 8
