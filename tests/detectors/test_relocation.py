"""relocation: GPUs reported at one site and later at another, judged against Transfers and licences."""
from datetime import date

import pytest

from compliance.models import Finding
from inventory.models import License, Transfer

from .conftest import days_ago, findings, uuids_of

pytestmark = pytest.mark.django_db


def move(fleet, old_cluster, new_cluster, profile="hgx-h100"):
    """A host at the old cluster reports three days ago; the same GPUs report today from a host
    at the new cluster.  Returns (snapshot, last observation at the old site, first at the new)."""
    old, new = fleet.node(old_cluster, "gpu-old"), fleet.node(new_cluster, "gpu-new")
    snapshot = old.profile(profile)
    old.report(snapshot, when=days_ago(4))
    left = old.report(snapshot, when=days_ago(3))
    arrived = new.report(snapshot)
    return snapshot, left, arrived


@pytest.fixture
def sites(fleet, sg_cluster):
    operator = sg_cluster.operator
    return {
        "sg": sg_cluster,
        "sg2": fleet.cluster(fleet.site(operator, "SG-2", "SG"), "sg-train-2"),
        "sg1-other": fleet.cluster(sg_cluster.site, "sg-infer-1"),
        "my": fleet.cluster(fleet.site(operator, "MY-1", "MY"), "my-train-1"),
        "cn": fleet.cluster(fleet.site(operator, "CN-1", "CN"), "cn-train-1"),
    }


def test_move_into_a_licence_requiring_country_is_critical(fleet, sites):
    snapshot, left, arrived = move(fleet, sites["sg"], sites["cn"])
    [finding] = findings("relocation")
    assert finding.severity == Finding.Severity.CRITICAL
    assert finding.subject_type == "cluster" and finding.cluster_id == sites["cn"].id
    assert finding.evidence["observation_ids"] == [left, arrived]
    gpus = finding.evidence["figures"]["gpus"]
    assert [g["uuid"] for g in gpus] == sorted(uuids_of(snapshot))
    assert all(g["licence_required_after"] and not g["licence_required_before"] and g["border_crossed"] for g in gpus)


def test_a_licence_on_record_leaves_an_unrecorded_border_crossing(fleet, sites):
    License.objects.create(number="CN-1", holder=sites["cn"].operator, destination_country="CN",
                           eccns=["3A090.a"], valid_from=date(2020, 1, 1))
    move(fleet, sites["sg"], sites["cn"])
    [finding] = findings("relocation")
    assert finding.severity == Finding.Severity.HIGH


@pytest.mark.parametrize("destination, severity", [("my", Finding.Severity.HIGH), ("sg2", Finding.Severity.MEDIUM)])
def test_unrecorded_moves(fleet, sites, destination, severity):
    move(fleet, sites["sg"], sites[destination])
    [finding] = findings("relocation")
    assert finding.severity == severity
    assert "no recorded transfer" in finding.title


def test_near_miss_move_with_a_recorded_transfer(fleet, sites):
    old, new = fleet.node(sites["sg"], "gpu-old"), fleet.node(sites["my"], "gpu-new")
    snapshot = old.profile("hgx-h100")
    for gpu_uuid in uuids_of(snapshot):
        Transfer.objects.create(gpu_uuid=gpu_uuid, from_site=sites["sg"].site, to_site=sites["my"].site,
                                effective_date=days_ago(2).date())
    old.report(snapshot, when=days_ago(3))
    new.report(snapshot)
    assert findings("relocation") == []


def test_near_miss_move_between_clusters_of_one_site(fleet, sites):
    move(fleet, sites["sg"], sites["sg1-other"])
    assert findings("relocation") == []
