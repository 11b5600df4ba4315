"""GET /api/v1/audit-events and the audit-log page: filters, the chain's status, who may read them,
and the recipes of docs/api.md run against the API's answers."""
import re
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from compliance.audit.models import AuditEvent
from tests.api.fleet import api_client

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _recipe(name: str) -> str:
    """The Python block of docs/api.md that starts with `# recipe: NAME`."""
    match = re.search(rf"```python\n(# recipe: {name}\n.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert match, f"docs/api.md has no '# recipe: {name}' block"
    return match.group(1)


def _rename(site, name):
    site.name = name
    site.save()


def test_filters_and_chain_status(users, family_a):
    from compliance.audit.context import audit_context

    with audit_context(user=users["officer"], request_id="req-42"):
        _rename(family_a.site, "Alpha-DC1-renamed")
    client = api_client(users["admin"])
    body = client.get("/api/v1/audit-events", {"actor": "officer", "model": "inventory.site",
                                               "object": str(family_a.site.pk)}).json()
    assert body["count"] == 1
    event = body["results"][0]
    assert (event["request_id"], event["action"]) == ("req-42", "update")
    assert (event["before"]["name"], event["after"]["name"]) == ("Alpha-DC1", "Alpha-DC1-renamed")
    assert body["chain"]["intact"] is True and body["chain"]["events"] == AuditEvent.objects.count()
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert client.get("/api/v1/audit-events", {"since": future}).json()["count"] == 0
    assert client.get("/api/v1/audit-events", {"until": future}).json()["count"] == AuditEvent.objects.count()
    assert client.get("/api/v1/audit-events", {"since": "yesterday"}).status_code == 400


def test_a_tampered_row_shows_in_the_chain_status(users, family_a):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET object_repr = 'forged' WHERE seq = 2")
    body = api_client(users["admin"]).get("/api/v1/audit-events").json()
    assert body["chain"]["intact"] is False and "seq=2" in body["chain"]["problem"]


def test_only_readers_of_every_organization_read_the_log(client, users, family_a):
    for role in ("auditor_a", "officer_a", "no_role"):
        assert api_client(users[role]).get("/api/v1/audit-events").status_code == 403, role
    assert api_client(None).get("/api/v1/audit-events").status_code == 401
    client.force_login(users["officer_a"])
    assert client.get("/audit/").status_code == 403


def test_the_audit_log_page_shows_changes_and_chain(client, users, family_a):
    _rename(family_a.site, "Alpha <b>DC</b>")
    client.force_login(users["admin"])
    page = client.get("/audit/", {"model": "inventory.site"}).content.decode()
    assert "Hash chain <strong>intact</strong>" in page
    assert "Alpha-DC1 → Alpha &lt;b&gt;DC&lt;/b&gt;" in page


def test_the_audit_event_recipe_recomputes_every_hash_and_the_chain(users, family_a):
    _rename(family_a.site, "Alpha DC ünïcode")
    body = api_client(users["admin"]).get("/api/v1/audit-events", {"limit": 1000}).json()
    genuine = {"events": body["results"]}
    exec(_recipe("audit-event-chain"), genuine)
    assert genuine["ok"] is True
    body["results"][-1]["after"]["name"] = "edited by someone"
    tampered = {"events": body["results"]}
    exec(_recipe("audit-event-chain"), tampered)
    assert tampered["ok"] is False


def test_the_audit_report_recipe_matches_the_served_hash(users, family_a):
    from datetime import date

    response = api_client(users["auditor_a"]).get(f"/api/v1/clusters/{family_a.clusters[0].pk}/audit",
                                                  {"as_of": date.today().isoformat()})
    assert response.status_code == 200
    namespace = {"body": response.content}
    exec(_recipe("audit-report-hash"), namespace)
    assert namespace["recomputed"] == response["X-Content-SHA256"] == namespace["served"]
