"""No N+1: each list endpoint runs the same number of queries for 5 rows and for 50."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.fleet import api_client, fleet_grow

LISTS = ["organizations", "sites", "clusters", "hosts", "gpus", "observations", "classifications", "scores",
         "findings"]


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"limit": 1000})
    assert response.status_code == 200, response.content
    return len(captured)


@pytest.mark.parametrize("role", ["auditor_a", "admin"])
def test_list_queries_do_not_grow_with_rows(role, users, family_a):
    client = api_client(users[role])
    client.get("/api/v1/organizations")  # the token's first use records its last_used_at (once a minute)
    fleet_grow(family_a, clusters=4)  # 5 clusters (10 GPUs, …)
    small = {endpoint: _queries(client, f"/api/v1/{endpoint}") for endpoint in LISTS}
    fleet_grow(family_a, clusters=45)  # 50 clusters
    large = {endpoint: _queries(client, f"/api/v1/{endpoint}") for endpoint in LISTS}
    assert large == small
    # token + grants + one per ownership level (up and down) + count + page + prefetched related rows
    # + the page's per-row figures (+ ultimate parents for organizations): constant, whatever the rows
    assert max(small.values()) <= 12, small


def test_finding_detail_queries_do_not_grow_with_history(users, family_a):
    from compliance.findings import finding_triage

    client = api_client(users["officer"])
    finding = family_a.findings[0]
    url = f"/api/v1/findings/{finding.pk}"
    client.get(url)  # the token's first use records its last_used_at (once a minute)
    before = _queries(client, url)
    for step in ["acknowledged", "open"] * 10:
        finding_triage(finding=finding, actor=users["officer"], to_status=step, note="n", assignee=users["officer"])
    assert _queries(client, url) == before
