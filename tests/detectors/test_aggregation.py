"""aggregation: clusters of one parent adding up past a line, clusters sharing one NVLink fabric."""
import pytest

from compliance.detectors.aggregation import ClusterFigures, crossings, lines
from compliance.models import Finding

from .conftest import findings, share_fabric

pytestmark = pytest.mark.django_db


@pytest.fixture
def family(fleet):
    parent = fleet.org("Split Holdings", "US")
    return [fleet.cluster(fleet.site(fleet.org(f"Split {n}", "SG", parent=parent), f"SG-{n}", "SG"), f"c-{n}")
            for n in (1, 2)]


@pytest.fixture
def low_allowance(settings):
    """An allowance of 12 H100-equivalents: two 8-GPU H100 hosts cross it together, not alone."""
    settings.CHIPWATCH_AGGREGATION_H100_EQUIVALENTS = 12


def test_two_clusters_of_one_parent_cross_the_allowance_together(fleet, family, low_allowance):
    first = fleet.node(family[0], "gpu-split-1").report("hgx-h100")
    second = fleet.node(family[1], "gpu-split-2").report("hgx-h100")
    [finding] = findings("aggregation.family")
    assert finding.severity == Finding.Severity.LOW  # AI Diffusion is not enforced
    assert finding.subject_type == "organization" and finding.subject_id == family[0].operator.parent_id
    assert sorted(finding.evidence["observation_ids"]) == [first, second]
    figures = finding.evidence["figures"]
    assert figures["line"] == "lpp_allowance" and figures["total"] == pytest.approx(16, abs=0.01)


def test_near_miss_one_cluster_over_alone_or_two_parents(fleet, family, low_allowance):
    big = family[0]
    fleet.node(big, "gpu-big-1").report("hgx-h100")
    fleet.node(big, "gpu-big-2").report("hgx-h100")
    fleet.node(family[1], "gpu-small").report("l40s")
    stranger = fleet.cluster(fleet.site(fleet.org("Stranger", "SG"), "SG-9", "SG"), "c-9")
    fleet.node(stranger, "gpu-stranger").report("hgx-h100")
    assert findings("aggregation.family") == []


def test_supercomputer_lines_weigh_more_within_one_site():
    """Pure: a 1,500-GPU fleet is too big to ingest in a unit test, so the sums are checked on
    cluster figures directly (the same rows the detector reads from ClusterScore)."""
    def row(cluster_id, site_id, fp64):
        return ClusterFigures(cluster_id, family_id=1, site_id=site_id, score_id=cluster_id,
                              figures={"fp64_petaflops": fp64, "fp32_petaflops": 0, "h100_equivalents": 0})
    [fp64] = [line for line in lines() if line.name == "supercomputer_fp64"]
    [same_site] = crossings([row(1, 1, 60), row(2, 1, 45)], [fp64])
    assert same_site.severity == Finding.Severity.HIGH and same_site.total == 105
    [spread] = crossings([row(1, 1, 60), row(2, 2, 45)], [fp64])
    assert spread.severity == Finding.Severity.MEDIUM
    assert crossings([row(1, 1, 120), row(2, 1, 10)], [fp64]) == []  # one cluster is over on its own
    assert crossings([row(1, 1, 50), row(2, 1, 45)], [fp64]) == []


def test_clusters_sharing_one_nvlink_fabric(fleet, family):
    left, right = fleet.node(family[0], "gpu-fabric-a"), fleet.node(family[1], "gpu-fabric-b")
    shared = left.profile("hgx-b200")
    first = left.report(shared)
    second = right.report(share_fabric(right.profile("hgx-b200"), shared))
    [finding] = findings("aggregation.fabric")
    assert finding.severity == Finding.Severity.HIGH
    assert sorted(finding.evidence["observation_ids"]) == [first, second]
    assert [c["cluster_id"] for c in finding.evidence["figures"]["clusters"]] == [family[0].id, family[1].id]


def test_near_miss_one_fabric_within_one_cluster(fleet, family):
    left, right = fleet.node(family[0], "gpu-fabric-a"), fleet.node(family[0], "gpu-fabric-b")
    shared = left.profile("hgx-b200")
    left.report(shared)
    right.report(share_fabric(right.profile("hgx-b200"), shared))
    assert findings("aggregation.fabric") == []
