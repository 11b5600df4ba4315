"""identity: relabelled or spoofed parts, planted by editing what NVML answers."""
import pytest

from compliance.detectors import run_detectors
from compliance.models import Finding

from .conftest import answer, findings, unlock_nvlinks

pytestmark = pytest.mark.django_db


def test_h800_with_eighteen_nvlink4_links_is_critical(fleet, sg_cluster):
    node = fleet.node(sg_cluster, "gpu-unlocked")
    observation_id = node.report(unlock_nvlinks(node.profile("hgx-h800")))
    [finding] = findings("identity")
    assert finding.severity == Finding.Severity.CRITICAL
    assert finding.subject_type == "host" and finding.subject_id == node.host.id
    assert finding.cluster_id == sg_cluster.id and finding.organization_id == sg_cluster.operator_id
    assert finding.evidence["observation_ids"] == [observation_id]
    figures = finding.evidence["figures"]
    assert figures["catalog_model"] == "h800-sxm" and figures["gpu_count"] == 8
    [links] = [d for d in figures["discrepancies"] if d["check"] == "nvlink_count"]
    assert (links["reported"], links["expected"]) == (18, 8)
    assert "h100-sxm" in figures["figures_fit"]
    assert "87 FR 62186" in finding.citation


def test_h100_device_id_named_h20_is_critical(fleet, sg_cluster):
    node = fleet.node(sg_cluster, "gpu-renamed")
    observation_id = node.report(answer(node.profile("hgx-h100"), "nvmlDeviceGetName", "NVIDIA H20"))
    [finding] = findings("identity")
    assert finding.severity == Finding.Severity.CRITICAL
    assert finding.evidence["observation_ids"] == [observation_id]
    [name] = finding.evidence["figures"]["discrepancies"]
    assert name["check"] == "name" and name["expected"] == "h100-sxm" and "h20" in name["reported"]


def test_memory_of_no_known_variant_is_high(fleet, sg_cluster):
    node = fleet.node(sg_cluster, "gpu-memory")
    snapshot = node.profile("hgx-h20")
    for call in snapshot["calls"]:
        if call[0] == "nvmlDeviceGetMemoryInfo":
            call[2]["return"]["fields"]["total"] = 64 * 1024 ** 3
    observation_id = node.report(snapshot)
    [finding] = findings("identity")
    assert finding.severity == Finding.Severity.HIGH
    assert finding.evidence["observation_ids"] == [observation_id]
    [memory] = finding.evidence["figures"]["discrepancies"]
    assert memory["check"] == "memory_size" and memory["reported"] == 64.0 and 96 in memory["expected"]


@pytest.mark.parametrize("profile", ["hgx-h800", "hgx-h20", "hgx-b200", "l40s", "rtx-4090", "hgx-a800"])
def test_honest_profiles_raise_nothing(fleet, sg_cluster, profile):
    fleet.node(sg_cluster, "gpu-honest").report(profile)
    assert findings("identity") == []


def test_near_miss_fewer_links_and_variant_memory_are_not_hits(fleet, sg_cluster):
    """An H100 with links down, and an H20 reporting its 141 GB HBM3e variant's memory."""
    h100 = fleet.node(sg_cluster, "gpu-links-down")
    snapshot = h100.profile("hgx-h100")
    for call in snapshot["calls"]:
        if call[0] == "nvmlDeviceGetNvLinkState" and call[1][1] >= 12:
            call[2] = {"return": 0}
    h100.report(snapshot)
    h20 = fleet.node(sg_cluster, "gpu-h20-141")
    snapshot = h20.profile("hgx-h20")
    for call in snapshot["calls"]:
        if call[0] == "nvmlDeviceGetMemoryInfo":
            call[2]["return"]["fields"]["total"] = 150754820096  # what an H200 (141 GB) reports
    h20.report(snapshot)
    assert findings("identity") == []


def test_evaluating_again_counts_an_occurrence(fleet, sg_cluster):
    node = fleet.node(sg_cluster, "gpu-twice")
    snapshot = unlock_nvlinks(node.profile("hgx-h800"))
    first = node.report(snapshot)
    second = node.report(snapshot)
    run_detectors(host_ids=None)
    [finding] = findings("identity")
    assert finding.occurrences == 3
    assert finding.evidence["observation_ids"] == [first, second]
