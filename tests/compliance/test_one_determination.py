"""One licence determination feeds the cluster page's licence box, the score's points and the findings:
for every cluster of a fleet, "licence required and none on record" ⇔ an open licence_gap finding ⇔ the
score's licence-gap points ⇔ the page saying so.  Checked on the API test fleet and on the demo inventory
(each demo host reporting its profile through the real ingest path)."""
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance.core.scoring import LICENCE_GAP_POINTS
from compliance.findings import OPEN_STATES
from compliance.models import ClusterScore, Finding
from compliance.services import fleet_rescore, gpus_classify
from inventory.demo import demo_hosts, demo_inventory_load
from inventory.models import Cluster, Gpu, License
from tests.api.fleet import fleet_grow
from tests.detectors.conftest import Fleet, unlock_nvlinks

pytestmark = pytest.mark.django_db

PLANTED = {"unlocked-nvlinks": unlock_nvlinks}


def determination_of(cluster, client) -> dict:
    """What the score, the findings and the cluster page each say about the licence."""
    score = ClusterScore.objects.filter(cluster=cluster).latest("as_of")
    page = client.get(reverse("web:cluster", args=[cluster.pk]))
    assert page.status_code == 200
    box = re.search(r'id="licence-determination">(.*?)·', page.content.decode(), re.S)
    return {
        "state": score.figures["licence"]["state"],
        "points": [c for c in score.figures["contributions"]
                   if c["points"] == LICENCE_GAP_POINTS and "none on record" in c["reason"]],
        "finding": Finding.objects.filter(kind="licence_gap", cluster=cluster, status__in=OPEN_STATES).first(),
        "page": " ".join(box.group(1).split()) if box else None,
    }


def assert_one_determination(client, clusters) -> dict[str, dict]:
    seen = {}
    for cluster in clusters:
        said = seen[cluster.name] = determination_of(cluster, client)
        gap = said["state"] == "required_unlicensed"
        assert gap == bool(said["points"]) == (said["finding"] is not None), (cluster.name, said)
        assert said["page"] is not None and ("and none on record" in said["page"]) == gap, (cluster.name, said)
    return seen


def test_api_fleet(family_a, family_b, users, client):
    fleet_grow(family_a, clusters=2)
    fleet_grow(family_b, clusters=2)
    gpus_classify(gpus=Gpu.objects.all(), as_of=timezone.localdate())  # the fleet's rows name no catalog key
    fleet_rescore()
    client.force_login(users["admin"])
    seen = assert_one_determination(client, Cluster.objects.order_by("name"))
    # Family B (CN headquarters, H100 in China, no licence) has the gap; family A (US, Singapore) does not.
    assert {name: said["state"] for name, said in seen.items()} == {
        **{c.name: "not_required" for c in family_a.clusters}, **{c.name: "required_unlicensed" for c in family_b.clusters}}
    License.objects.create(number="CN-1", holder=family_b.root, destination_country="CN", eccns=[],
                           valid_from=family_b.scores[0].as_of)
    fleet_rescore()
    assert {said["state"] for said in assert_one_determination(client, Cluster.objects.all()).values()} == {
        "not_required", "covered"}


def test_demo_inventory(client, django_capture_on_commit_callbacks, admin_user):
    clusters = demo_inventory_load()
    fleet = Fleet(client, django_capture_on_commit_callbacks)
    for host in demo_hosts():
        node = fleet.node(clusters[host.cluster], host.hostname)
        snapshot = node.profile(host.profile)
        node.report(PLANTED[host.planted](snapshot) if host.planted else snapshot)
    client.force_login(admin_user)
    seen = assert_one_determination(client, clusters.values())
    # The two contradictions of issue 15: qm-lab (CN, 8 H20 under the is-informed notice, no licence) now
    # scores the gap it has a finding for; gc-mixed (AE, 8 H200) scores, finds and shows the same answer.
    qm_lab = seen["qm-lab"]
    assert qm_lab["state"] == "required_unlicensed" and qm_lab["finding"].severity >= Finding.Severity.HIGH
    assert "h20" in qm_lab["points"][0]["reason"]
    assert seen["gc-mixed"]["state"] == "required_unlicensed" and seen["gc-mixed"]["finding"] is not None
