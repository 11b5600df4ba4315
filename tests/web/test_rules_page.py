"""The officer's rules timeline page: the core's timeline, filtered as the command filters it."""
import pytest


@pytest.fixture
def officer(client, users):
    client.force_login(users["officer"])
    return client


def test_the_page_needs_a_login(client, db):
    response = client.get("/rules/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_timeline_for_a_country_since_a_date(officer):
    html = officer.get("/rules/", {"country": "kh", "since": "2025-01-01"}).content.decode()
    assert "KH leaves D:5" in html and "22 CFR 126.1" in html and "secondary" in html
    assert "NI joins D:5" not in html and "87 FR 62186" not in html
    assert 'href="/rules/"' in officer.get("/dashboard/").content.decode()


def test_bad_filters_answer_400_naming_the_problem(officer):
    response = officer.get("/rules/", {"country": "Cambodia"})
    assert response.status_code == 400 and "Ensure this value has at most 2 characters" in response.content.decode()
    assert officer.get("/rules/", {"since": "soon"}).status_code == 400
