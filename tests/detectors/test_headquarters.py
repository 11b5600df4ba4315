"""headquarters: licence-requiring chips held for a D:5/Macau-headquartered party, no licence on record."""
from datetime import date

import pytest

from compliance.models import Finding
from inventory.models import License

from .conftest import findings

pytestmark = pytest.mark.django_db


@pytest.fixture
def parented_cluster(fleet):
    """A Singapore cluster whose operator's ultimate parent is set per test."""
    def build(parent_hq: str):
        parent = fleet.org("Far Holdings", parent_hq)
        operator = fleet.org("Far Compute SG", "SG", parent=fleet.org("Far Intermediate", "SG", parent=parent))
        return fleet.cluster(fleet.site(operator, "SG-7", "SG"), "sg-7"), parent
    return build


@pytest.mark.parametrize("profile, parent_hq, severity", [
    ("hgx-h100", "CN", Finding.Severity.CRITICAL),  # 3A090.a: presumption of denial (91 FR 1684 keeps it)
    ("hgx-h20", "MO", Finding.Severity.HIGH),  # H20: the is-informed requirement, no published policy
])
def test_controlled_chips_for_a_d5_or_macau_parent(fleet, parented_cluster, profile, parent_hq, severity):
    cluster, _ = parented_cluster(parent_hq)
    observation_id = fleet.node(cluster, "gpu-parented").report(profile)
    [finding] = findings("headquarters")
    assert finding.severity == severity
    assert finding.subject_type == "cluster" and finding.cluster_id == cluster.id
    assert finding.organization_id == cluster.operator_id
    assert finding.evidence["observation_ids"] == [observation_id]
    figures = finding.evidence["figures"]
    assert figures["ultimate_parent_headquarters"] == parent_hq and figures["models"][0]["gpus"] == 8


def test_near_miss_a_licence_on_record(fleet, parented_cluster):
    cluster, parent = parented_cluster("CN")
    License.objects.create(number="SG-HQ-1", holder=parent, destination_country="SG", eccns=["3A090.a"],
                           valid_from=date(2024, 1, 1))
    fleet.node(cluster, "gpu-licensed").report("hgx-h100")
    assert findings("headquarters") == []


@pytest.mark.parametrize("profile, parent_hq", [("l20", "CN"), ("hgx-h100", "TW")])
def test_near_miss_uncontrolled_chip_or_parent_outside_d5(fleet, parented_cluster, profile, parent_hq):
    cluster, _ = parented_cluster(parent_hq)
    fleet.node(cluster, "gpu-fine").report(profile)
    assert findings("headquarters") == []
