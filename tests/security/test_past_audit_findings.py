"""An audit as of a passed date never changes when a detector later restates a finding (issue 11, item 4).

Detectors refresh a finding in place (same dedup key: new severity, title, evidence).  The audit as of D reads
what the finding asserted at its last event by the end of D (FindingEvent.title/severity/observation_ids), so
the hash an auditor took yesterday still verifies today.  Through the audit API, on the fleet of tests/api."""
from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.findings import FindingSpec, finding_raise
from compliance.models import Finding
from tests.api.fleet import api_client
from tests.detectors.conftest import at

pytestmark = pytest.mark.django_db


def _spec(cluster, observation, *, severity: int, title: str, gpus: int) -> FindingSpec:
    return FindingSpec(kind="undeclared_gpu", severity=severity, subject_type="cluster", subject_id=cluster.pk,
                       dedup_key=f"test-restated:{cluster.pk}", title=title, citation="15 CFR 762",
                       observation_ids=(observation.pk,), figures={"gpus": gpus}, cluster_id=cluster.pk,
                       organization_id=cluster.operator_id)


def _audit(client, cluster, as_of):
    response = client.get(f"/api/v1/clusters/{cluster.pk}/audit", {"as_of": as_of.isoformat()})
    assert response.status_code == 200, response.content
    return response["X-Content-SHA256"], response.json()["report"]["findings"]


def test_a_detector_restating_a_finding_today_leaves_yesterdays_audit_unchanged(family_a, users):
    cluster, observation = family_a.clusters[0], family_a.observations[0]
    yesterday = timezone.now() - timedelta(days=1)
    with at(yesterday):
        raised = finding_raise(spec=_spec(cluster, observation, severity=Finding.Severity.MEDIUM,
                                          title="2 GPUs not declared", gpus=2))
    auditor = api_client(users["auditor_a"])
    before, findings = _audit(auditor, cluster, yesterday.date())
    assert [(f["title"], f["severity"]) for f in findings if f["id"] == raised.pk] == [("2 GPUs not declared",
                                                                                         "medium")]

    restated = finding_raise(spec=_spec(cluster, observation, severity=Finding.Severity.CRITICAL,
                                        title="8 GPUs not declared", gpus=8))
    assert (restated.pk, restated.severity, restated.title) == (raised.pk, Finding.Severity.CRITICAL,
                                                                "8 GPUs not declared")

    after, findings = _audit(auditor, cluster, yesterday.date())
    assert after == before
    _, today = _audit(auditor, cluster, timezone.now().date())
    assert [(f["title"], f["severity"]) for f in today if f["id"] == raised.pk] == [("8 GPUs not declared",
                                                                                      "critical")]
    assert "severity medium → critical" in restated.events.order_by("at", "id").last().note


def test_a_refresh_that_restates_nothing_adds_no_event(family_a):
    cluster, observation = family_a.clusters[0], family_a.observations[0]
    spec = _spec(cluster, observation, severity=Finding.Severity.HIGH, title="2 GPUs not declared", gpus=2)
    finding = finding_raise(spec=spec)
    finding_raise(spec=spec)
    assert finding.events.count() == 1  # only "raised": the history holds steps, not every sighting
