"""A report arrives → classification and cluster score appear (in-process Celery; the
real-worker version is in tests/integration)."""
from datetime import date

import pytest
from chipwatch_agent import protocol
from chipwatch_agent.collector import Collector
from chipwatch_agent.nvml_fake import FakeNvml
from chipwatch_agent.report import build_report

from compliance.models import ClusterScore, GpuClassification
from compliance.services import cluster_audit_report, clusters_score
from inventory.models import Host, License
from tests.reports import signed_post

pytestmark = pytest.mark.django_db


def profile_report(agent, profile: str, sequence: int = 0) -> dict:
    collection = Collector(FakeNvml.from_profile(profile)).collect()
    return build_report(collection, agent_id=str(agent.id), sequence=sequence, backend="fake")


def test_h800_report_is_classified_and_scored(client, enrolled_agent, django_capture_on_commit_callbacks):
    agent, key = enrolled_agent
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_post(client, profile_report(agent, "hgx-h800"), key).status_code == 201
    classifications = GpuClassification.objects.filter(gpu__host=agent.host)
    assert classifications.count() == 8
    assert set(classifications.values_list("catalog_model", "eccn", "paragraph")) == {
        ("h800-sxm", "3A090.a", "3A090.a.1")}
    score = ClusterScore.objects.get(cluster=agent.host.cluster)
    assert score.gpu_count == 8
    assert score.controlled_gpu_count == 8
    # Singapore, operator and ultimate parent headquartered in SG/US: no licence needed.
    assert score.figures["license_required"] is False
    assert Host.objects.get(pk=agent.host_id).needs_evaluation is None


def test_parent_headquartered_in_china_needs_a_licence_anywhere(client, enrolled_agent,
                                                               django_capture_on_commit_callbacks):
    agent, key = enrolled_agent
    parent = agent.host.cluster.operator.parent
    parent.headquarters_country = "CN"
    parent.save()
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(client, profile_report(agent, "hgx-h800"), key)
    score = ClusterScore.objects.get(cluster=agent.host.cluster)
    assert score.figures["license_required"] is True
    assert score.figures["ultimate_parent_headquarters"] == "CN"
    reasons = " ".join(score.figures["models"]["h800-sxm"]["license"]["reasons"])
    assert "headquarter" in reasons.lower()


def test_score_is_reproducible_and_idempotent(client, enrolled_agent, django_capture_on_commit_callbacks):
    agent, key = enrolled_agent
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(client, profile_report(agent, "hgx-h100"), key)
    cluster = agent.host.cluster
    clusters_score(cluster_ids=[cluster.id], as_of=date(2024, 6, 1))
    first = ClusterScore.objects.get(cluster=cluster, as_of=date(2024, 6, 1))
    clusters_score(cluster_ids=[cluster.id], as_of=date(2024, 6, 1))
    again = ClusterScore.objects.get(cluster=cluster, as_of=date(2024, 6, 1))
    assert first.pk == again.pk and first.content_sha256 == again.content_sha256
    assert ClusterScore.objects.filter(cluster=cluster, as_of=date(2024, 6, 1)).count() == 1


def test_a_licence_on_record_lowers_the_score(client, enrolled_agent, django_capture_on_commit_callbacks):
    agent, key = enrolled_agent
    site = agent.host.cluster.site
    site.country = "CN"  # a destination that needs a licence for 3A090.a
    site.save()
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(client, profile_report(agent, "hgx-h100"), key)
    cluster = agent.host.cluster
    as_of = date(2026, 6, 1)
    clusters_score(cluster_ids=[cluster.id], as_of=as_of)
    unlicensed = ClusterScore.objects.get(cluster=cluster, as_of=as_of)
    assert unlicensed.figures["license_required"] is True
    lic = License.objects.create(number="D-1", holder=cluster.operator, destination_country=cluster.site.country,
                                 eccns=["3A090.a"], valid_from=date(2026, 1, 1))
    clusters_score(cluster_ids=[cluster.id], as_of=as_of)
    licensed = ClusterScore.objects.get(cluster=cluster, as_of=as_of)
    assert licensed.risk_score < unlicensed.risk_score
    assert licensed.figures["licenses_on_record"] == [lic.number]


def test_audit_report_is_built_from_history(client, enrolled_agent, django_capture_on_commit_callbacks):
    agent, key = enrolled_agent
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(client, profile_report(agent, "hgx-h800"), key)
    cluster = agent.host.cluster
    today = agent.host.observations.get().collected_at.date()
    report = cluster_audit_report(cluster=cluster, as_of=today)
    assert len(report["inventory"]) == 8
    assert {g["catalog_model"] for g in report["inventory"]} == {"h800-sxm"}
    assert report["evidence_observation_ids"] == [agent.host.observations.get().id]
    assert protocol.canonical_json(report) == protocol.canonical_json(cluster_audit_report(cluster=cluster,
                                                                                             as_of=today))
    before = cluster_audit_report(cluster=cluster, as_of=date(2020, 1, 1))
    assert before["inventory"] == [] and before["rule_in_force"] is None


def test_scoring_twice_in_one_transaction(client, enrolled_agent, django_capture_on_commit_callbacks):
    """The PostgreSQL upsert path uses a scratch table; a second score before commit must work."""
    from django.db import transaction

    agent, key = enrolled_agent
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(client, profile_report(agent, "hgx-h100"), key)
    with transaction.atomic():
        clusters_score(cluster_ids=[agent.host.cluster_id], as_of=date(2025, 1, 1))
        clusters_score(cluster_ids=[agent.host.cluster_id], as_of=date(2025, 1, 2))
    assert ClusterScore.objects.filter(cluster=agent.host.cluster, as_of__year=2025).count() == 2


def test_the_sweeper_takes_only_marks_older_than_its_bound(enrolled_agent):
    """A fresh mark still has its evaluation message in the queue; an old one lost it."""
    from datetime import timedelta

    from django.utils import timezone

    from compliance.evaluation.marks import hosts_pending_evaluation

    agent, _ = enrolled_agent
    Host.objects.filter(pk=agent.host_id).update(needs_evaluation=timezone.now() - timedelta(seconds=30))
    assert hosts_pending_evaluation(older_than_seconds=300) == []
    assert hosts_pending_evaluation(older_than_seconds=10) == [agent.host_id]
    Host.objects.filter(pk=agent.host_id).update(needs_evaluation=None)
    assert hosts_pending_evaluation(older_than_seconds=0) == []


def test_a_licence_held_by_the_ultimate_parent_counts_for_the_score(client, enrolled_agent,
                                                                   django_capture_on_commit_callbacks):
    """The scores and the detectors share one definition of whose licence counts."""
    agent, key = enrolled_agent
    site = agent.host.cluster.site
    site.country = "CN"
    site.save()
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(client, profile_report(agent, "hgx-h100"), key)
    cluster = agent.host.cluster
    parent = cluster.operator.parent
    License.objects.create(number="P-1", holder=parent, destination_country="CN", eccns=[],
                           valid_from=date(2026, 1, 1))
    clusters_score(cluster_ids=[cluster.id], as_of=date(2026, 6, 1))
    assert ClusterScore.objects.get(cluster=cluster, as_of=date(2026, 6, 1)).figures["licenses_on_record"] == ["P-1"]
