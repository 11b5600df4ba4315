"""What the read endpoints return: nested forms, filters, ordering, pagination, the error shape."""
import pytest

from tests.api.fleet import api_client, fleet_grow


@pytest.fixture
def officer_api(users):
    return api_client(users["officer"])


def test_organization_names_its_parent_and_ultimate_parent(officer_api, family_a):
    sub = officer_api.get("/api/v1/organizations", {"q": "sub 0", "family": family_a.root.pk}).json()["results"]
    assert len(sub) == 1
    assert sub[0]["parent"] == {"id": family_a.child.pk, "name": family_a.child.name}
    assert sub[0]["ultimate_parent_id"] == family_a.root.pk
    root = officer_api.get(f"/api/v1/organizations/{family_a.root.pk}").json()
    assert root["parent"] is None and root["ultimate_parent_id"] == family_a.root.pk


def test_family_filter_takes_any_member_and_returns_the_whole_family(officer_api, family_a, family_b):
    by_child = officer_api.get("/api/v1/organizations", {"family": family_a.child.pk}).json()
    names = {row["name"] for row in by_child["results"]}
    assert family_a.root.name in names and family_b.root.name not in names
    clusters = officer_api.get("/api/v1/clusters", {"family": family_b.root.pk}).json()["results"]
    assert [c["id"] for c in clusters] == [family_b.clusters[0].pk]


def test_cluster_list_counts_hosts_and_gpus(officer_api, family_a):
    row = officer_api.get(f"/api/v1/clusters/{family_a.clusters[0].pk}").json()
    assert row["host_count"] == 1 and row["gpu_count"] == 2
    assert row["site"]["country"] == "SG" and row["operator"]["id"] == family_a.child.pk


def test_filters_order_and_paginate(officer_api, family_a, family_b):
    fleet_grow(family_a, clusters=3)
    page = officer_api.get("/api/v1/clusters", {"country": "SG", "ordering": "-name", "limit": 2}).json()
    assert page["count"] == 4 and len(page["results"]) == 2 and page["next"]
    names = [row["name"] for row in page["results"]]
    assert names == sorted(names, reverse=True)
    rest = officer_api.get(page["next"]).json()
    assert len(rest["results"]) == 2 and not {r["name"] for r in rest["results"]} & set(names)
    gpus = officer_api.get("/api/v1/gpus", {"cluster": family_b.clusters[0].pk}).json()
    assert gpus["count"] == 2 and all(g["cluster"]["id"] == family_b.clusters[0].pk for g in gpus["results"])


def test_findings_filter_by_status_and_severity(officer_api, family_a, family_b):
    open_high = officer_api.get("/api/v1/findings", {"status": "open", "severity_min": 40}).json()
    assert open_high["count"] == 2
    assert officer_api.get("/api/v1/findings", {"status": "resolved"}).json()["count"] == 0
    bad = officer_api.get("/api/v1/findings", {"status": "nonsense"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid" and "status" in bad.json()["detail"]


def test_observation_payload_only_on_detail(officer_api, family_a):
    obs = family_a.observations[0]
    listed = officer_api.get("/api/v1/observations", {"host": family_a.hosts[0].pk}).json()["results"]
    assert listed[0]["id"] == obs.pk and "payload" not in listed[0]
    detail = officer_api.get(f"/api/v1/observations/{obs.pk}").json()
    assert detail["payload"] == obs.payload


def test_latest_scores_filter(officer_api, family_a):
    from datetime import date

    from compliance.models import ClusterScore

    old = family_a.scores[0]
    newer = ClusterScore.objects.create(cluster=old.cluster, as_of=date.today(), rule=old.rule, gpu_count=2,
                                        controlled_gpu_count=2, aggregate_tpp=1.0, h100_equivalents=0.1,
                                        risk_score=5, figures={}, content_sha256="d" * 64,
                                        computed_at=old.computed_at)
    rows = officer_api.get("/api/v1/scores", {"cluster": old.cluster_id, "latest": "true"}).json()["results"]
    assert [r["id"] for r in rows] == [newer.pk]


def test_finding_detail_carries_its_history(officer_api, family_a):
    finding = family_a.findings[0]
    detail = officer_api.get(f"/api/v1/findings/{finding.pk}").json()
    assert [e["to_status"] for e in detail["events"]] == ["open"]
    assert detail["evidence"]["observation_ids"] == [family_a.observations[0].pk]
    assert detail["severity_label"] == "high"


def test_page_size_is_bounded(officer_api, family_a):
    response = officer_api.get("/api/v1/gpus", {"limit": 100000})
    assert response.status_code == 200  # clamped to 1000 rows, not refused


def test_values_the_database_would_refuse_are_400_not_503(officer_api, family_a):
    """Found by schemathesis on PostgreSQL: such values used to reach the database and fail there."""
    for params in ({"last_seen_before": "0011-05-05T10:38:52+23:54"}, {"last_seen_after": "2026-01-01T00:00:00-20:43"},
                   {"cluster": str(2**70)}):
        response = officer_api.get("/api/v1/hosts", params)
        assert response.status_code == 400, (params, response.content)
