"""licence_gap: licence required and none on record, raised with the cluster's score and closed by the
system (with the evidence named) when the condition ends.  Reports go through the real ingest path."""
from datetime import date

import pytest
from django.utils import timezone

from compliance.findings import finding_triage
from compliance.models import ClusterScore, Finding
from compliance.services import clusters_score, fleet_rescore
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


def latest_score(cluster) -> ClusterScore:
    return ClusterScore.objects.filter(cluster=cluster).latest("as_of")


@pytest.mark.parametrize("profile, parent_hq, severity", [
    ("hgx-h100", "CN", Finding.Severity.CRITICAL),  # 3A090.a: presumption of denial (91 FR 1684 keeps it)
    ("hgx-h20", "MO", Finding.Severity.HIGH),  # H20: the is-informed requirement, no published policy
])
def test_licence_for_a_d5_or_macau_parent(fleet, parented_cluster, profile, parent_hq, severity):
    cluster, _ = parented_cluster(parent_hq)
    observation_id = fleet.node(cluster, "gpu-parented").report(profile)
    [finding] = findings("licence_gap")
    assert finding.severity == severity and finding.status == Finding.Status.OPEN
    assert finding.subject_type == "cluster" and finding.cluster_id == cluster.id
    assert finding.organization_id == cluster.operator_id
    assert finding.evidence["observation_ids"] == [observation_id]
    assert "headquartered in SG (ultimate parent " + parent_hq in finding.title
    figures = finding.evidence["figures"]
    assert figures["ultimate_parent_headquarters"] == parent_hq and figures["models"][0]["gpus"] == 8
    score = latest_score(cluster)
    assert score.figures["licence"]["state"] == "required_unlicensed"
    assert any(c["points"] == 25 and "none on record" in c["reason"] for c in score.figures["contributions"])


def test_near_miss_a_licence_on_record(fleet, parented_cluster):
    cluster, parent = parented_cluster("CN")
    License.objects.create(number="SG-HQ-1", holder=parent, destination_country="SG", eccns=["3A090.a"],
                           valid_from=date(2024, 1, 1))
    fleet.node(cluster, "gpu-licensed").report("hgx-h100")
    assert findings("licence_gap") == []
    assert latest_score(cluster).figures["licence"] == {
        "state": "covered", "required_models": ["h100-sxm"], "review_policy": "presumption of denial",
        "licences_on_record": ["SG-HQ-1"], "undetermined_models": [], "unidentified_gpus": 0}


@pytest.mark.parametrize("profile, parent_hq", [("l20", "CN"), ("hgx-h100", "TW")])
def test_near_miss_uncontrolled_chip_or_parent_outside_d5(fleet, parented_cluster, profile, parent_hq):
    cluster, _ = parented_cluster(parent_hq)
    fleet.node(cluster, "gpu-fine").report(profile)
    assert findings("licence_gap") == []
    assert latest_score(cluster).figures["licence"]["state"] == "not_required"


def test_licence_entered_closes_the_finding_naming_the_licence(fleet, parented_cluster):
    cluster, parent = parented_cluster("CN")
    fleet.node(cluster, "gpu-later").report("hgx-h100")
    [finding] = findings("licence_gap")
    License.objects.create(number="SG-HQ-2", holder=parent, destination_country="SG", eccns=["3A090.a"],
                           valid_from=date(2024, 1, 1))
    clusters_score(cluster_ids=[cluster.id], as_of=timezone.localdate())
    finding.refresh_from_db()
    assert finding.status == Finding.Status.RESOLVED
    closing = finding.events.order_by("id").last()
    assert closing.actor is None and closing.to_status == "resolved"
    assert "condition no longer holds" in closing.note and "SG-HQ-2" in closing.note
    assert not any("none on record" in c["reason"] for c in latest_score(cluster).figures["contributions"])


def test_an_officer_resolving_while_the_condition_holds_sees_it_reopen(fleet, parented_cluster):
    cluster, _ = parented_cluster("CN")
    node = fleet.node(cluster, "gpu-stubborn")
    node.report("hgx-h100")
    [finding] = findings("licence_gap")
    finding_triage(finding=finding, actor=None, to_status=Finding.Status.RESOLVED, note="looked fine")
    node.report("hgx-h100")  # the same identity: the batch evaluation re-scores nothing (compliance.evaluation)
    finding.refresh_from_db()
    assert finding.status == Finding.Status.RESOLVED
    fleet_rescore()  # what beat runs every hour: it sees the condition again
    finding.refresh_from_db()
    assert finding.status == Finding.Status.OPEN
    assert finding.events.order_by("id").last().note == "condition seen again after resolution"


def test_a_past_rescore_leaves_findings_alone(fleet, parented_cluster):
    cluster, parent = parented_cluster("CN")
    fleet.node(cluster, "gpu-past").report("hgx-h100")
    License.objects.create(number="SG-HQ-3", holder=parent, destination_country="SG", eccns=[],
                           valid_from=date(2024, 1, 1))
    clusters_score(cluster_ids=[cluster.id], as_of=date(2024, 6, 1))
    assert findings("licence_gap")[0].status == Finding.Status.OPEN
