"""Every role against every endpoint and method, including ids of the other tenant's objects.

Rules under test: anonymous → 401; a user with no role → 403; a role reads only its
families, and an object outside them answers 404 (never 403, so ids leak nothing);
read-only endpoints answer 405 to writes; triage needs an officer/admin role over the
finding's family (403 for an auditor who can see it).
"""
import pytest

from tests.api.fleet import ROLES, api_client

RESOURCES = {  # endpoint → the family attribute holding one of its objects
    "organizations": "child", "sites": "site", "clusters": "clusters", "hosts": "hosts", "gpus": "gpus",
    "observations": "observations", "classifications": "classifications", "scores": "scores",
    "findings": "findings",
}
READS = {"auditor_a": {"A"}, "auditor_b": {"B"}, "officer_a": {"A"}, "officer": {"A", "B"}, "admin": {"A", "B"}}
TRIAGES = {"officer_a": {"A"}, "officer": {"A", "B"}, "admin": {"A", "B"}}
WRITES = ("post", "put", "patch", "delete")


def expected(role: str, kind: str, method: str, family: str | None = None) -> int:
    if role == "anonymous":
        return 401
    if role == "no_role":
        return 403
    visible = family is None or family in READS[role]
    if kind == "triage":
        if method != "post":
            return 405
        if not visible:
            return 404
        return 200 if family in TRIAGES.get(role, set()) else 403
    if method != "get":
        return 405
    return 200 if visible else 404


def _object(family, attribute):
    value = getattr(family, attribute)
    return value[0] if isinstance(value, list) else value


@pytest.mark.parametrize("role", ROLES)
def test_authorization_matrix(role, users, family_a, family_b):
    client = api_client(users[role])
    families = {"A": family_a, "B": family_b}
    mismatches = []

    def check(method, url, kind, family=None, **kwargs):
        response = getattr(client, method)(url, **kwargs)
        want = expected(role, kind, method, family)
        if response.status_code != want:
            mismatches.append(f"{method.upper()} {url} ({kind}, family {family}): {response.status_code} != {want}")
        return response

    for endpoint, attribute in RESOURCES.items():
        listing = check("get", f"/api/v1/{endpoint}", "list")
        if listing.status_code == 200:
            ids = {row["id"] for row in listing.json()["results"]}
            for name, family in families.items():
                if (_object(family, attribute).pk in ids) != (name in READS[role]):
                    mismatches.append(f"GET /api/v1/{endpoint}: family {name} object listed: {name not in READS[role]}")
        check("post", f"/api/v1/{endpoint}", "list", data={})
        for name, family in families.items():
            url = f"/api/v1/{endpoint}/{_object(family, attribute).pk}"
            for method in ("get", *WRITES[1:]):
                check(method, url, "detail", name, data={})

    for name, family in families.items():
        cluster = family.clusters[0]
        check("get", f"/api/v1/clusters/{cluster.pk}/audit?as_of=2026-01-01", "audit", name)
        check("post", f"/api/v1/clusters/{cluster.pk}/audit?as_of=2026-01-01", "audit", name)
        triage_url = f"/api/v1/findings/{family.findings[0].pk}/triage"
        check("get", triage_url, "triage", name)
        assignee = users[role].pk if users[role] is not None else 1
        check("post", triage_url, "triage", name,
              data={"to_status": "acknowledged", "note": "looking into it", "assignee": assignee}, format="json")

    assert mismatches == []


def test_a_signed_agent_is_not_a_reader(family_a):
    """Agents authenticate reports by signature only: their headers open no read endpoint."""
    agent = family_a.hosts[0].agents.get()
    response = api_client(None).get("/api/v1/clusters", HTTP_X_CHIPWATCH_AGENT=str(agent.pk),
                                    HTTP_X_CHIPWATCH_SIGNATURE="AAAA")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_session_login_reads_like_a_token(client, users, family_a, family_b):
    client.force_login(users["auditor_b"])
    ids = {row["id"] for row in client.get("/api/v1/clusters").json()["results"]}
    assert ids == {c.pk for c in family_b.clusters}
    assert client.get(f"/api/v1/clusters/{family_a.clusters[0].pk}").status_code == 404
