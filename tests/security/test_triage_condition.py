"""The triage form says whether the finding's condition still holds before an officer resolves it (issue 15).

licence_gap is answered from the cluster score's stored licence determination (the one that raises and closes
the finding); a kind no stored determination re-checks is answered undetermined, never "holds" or "ended".
Reports go through the real ingest path (tests/detectors' Fleet); pages through the Django test client."""
from datetime import date

import pytest
from django.utils import timezone

from compliance.models import Finding
from compliance.services import clusters_score
from inventory.models import License
from tests.detectors.conftest import fleet, sg_cluster  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("triage-officer", password="pw-triage-officer")
    client.force_login(user)
    return client


def condition_text(client, finding) -> str:
    response = client.get(f"/findings/{finding.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    start = html.index('id="finding-condition"')
    return " ".join(html[start:html.index("</p>", start)].split())


def test_a_licence_gap_says_whether_it_still_holds_from_the_stored_determination(fleet, officer_client):  # noqa: F811
    parent = fleet.org("Far Holdings", "CN")
    operator = fleet.org("Far Compute SG", "SG", parent=parent)
    cluster = fleet.cluster(fleet.site(operator, "SG-7", "SG"), "sg-7")
    fleet.node(cluster, "gpu-gap").report("hgx-h100")
    finding = Finding.objects.get(kind="licence_gap", cluster=cluster)

    text = condition_text(officer_client, finding)
    assert "Condition still holds" in text and "resolving re-opens this finding" in text

    License.objects.create(number="SG-HQ-9", holder=parent, destination_country="SG", eccns=["3A090.a"],
                           valid_from=date(2024, 1, 1))
    clusters_score(cluster_ids=[cluster.id], as_of=timezone.localdate())
    text = condition_text(officer_client, finding)
    assert "Condition no longer holds" in text and "SG-HQ-9" in text
    assert "Condition still holds" not in text


def test_a_kind_without_a_stored_determination_is_undetermined(fleet, officer_client, sg_cluster):  # noqa: F811
    from compliance.findings import FindingSpec, finding_raise

    finding = finding_raise(spec=FindingSpec(
        kind="undeclared_gpu", severity=Finding.Severity.HIGH, subject_type="cluster", subject_id=sg_cluster.pk,
        dedup_key=f"undeclared:{sg_cluster.pk}", title="GPUs not declared", citation="15 CFR 762",
        cluster_id=sg_cluster.pk, organization_id=sg_cluster.operator_id))
    text = condition_text(officer_client, finding)
    assert "Condition undetermined" in text and "last saw it" in text
    assert "Condition still holds" not in text and "Condition no longer holds" not in text
