"""POST /api/v1/findings/{id}/triage: the lifecycle through the API, with notes, assignees and history."""
from compliance.models import Finding
from tests.api.fleet import api_client


def _triage(client, finding, **body):
    return client.post(f"/api/v1/findings/{finding.pk}/triage", body, format="json")


def test_open_acknowledged_resolved_with_history(users, family_a):
    officer = users["officer_a"]
    client = api_client(officer)
    finding = family_a.findings[0]
    first = _triage(client, finding, to_status="acknowledged", note="checking the declaration", assignee=officer.pk)
    assert first.status_code == 200, first.content
    assert first.json()["status"] == "acknowledged" and first.json()["assignee"]["username"] == "officer_a"
    second = _triage(client, finding, to_status="resolved", note="declaration found", assignee=users["admin"].pk)
    history = second.json()["events"]
    assert [(e["from_status"], e["to_status"], e["note"]) for e in history] == [
        ("", "open", "raised"), ("open", "acknowledged", "checking the declaration"),
        ("acknowledged", "resolved", "declaration found")]
    assert history[-1]["actor"]["username"] == "officer_a"
    finding.refresh_from_db()
    assert finding.status == Finding.Status.RESOLVED and finding.assignee == users["admin"]


def test_note_and_assignee_are_mandatory(users, family_a):
    client = api_client(users["officer"])
    response = _triage(client, family_a.findings[0], to_status="acknowledged", note="  ")
    assert response.status_code == 400
    assert set(response.json()["detail"]) == {"note", "assignee"}


def test_illegal_step_is_refused_and_nothing_changes(users, family_a):
    client = api_client(users["officer"])
    finding = family_a.findings[0]
    _triage(client, finding, to_status="false_positive", note="test rig", assignee=users["officer"].pk)
    response = _triage(client, finding, to_status="resolved", note="?", assignee=users["officer"].pk)
    assert response.status_code == 400
    assert "cannot move" in response.json()["detail"]["to_status"][0]
    assert finding.events.count() == 2


def test_assignee_must_be_able_to_triage_the_finding(users, family_a):
    client = api_client(users["officer"])
    for assignee in ("auditor_a", "officer_a"):
        response = _triage(client, family_a.findings[0], to_status="acknowledged", note="n",
                           assignee=users[assignee].pk)
        assert response.status_code == (400 if assignee == "auditor_a" else 200), (assignee, response.content)
