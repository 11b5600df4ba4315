"""The triage assignee error does not tell a user of another family from an id nobody has."""
from django.contrib.auth import get_user_model

from tests.api.fleet import api_client


def test_unknown_and_foreign_assignees_get_the_same_answer(users, family_a, family_b):
    officer_b = get_user_model().objects.create_user("officer_b")
    from compliance.access.models import RoleGrant

    RoleGrant.objects.create(user=officer_b, role="officer", organization=family_b.root)
    client = api_client(users["officer_a"])
    url = f"/api/v1/findings/{family_a.findings[0].pk}/triage"
    answers = []
    for assignee in (officer_b.pk, 987654321, "not-an-id"):
        response = client.post(url, {"to_status": "acknowledged", "note": "n", "assignee": assignee}, format="json")
        assert response.status_code == 400
        answers.append(response.json())
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["detail"] == {"assignee": ["the assignee must be an officer or admin over this finding"]}
