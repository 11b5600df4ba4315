"""Ad-hoc screening: `manage.py screen` and GET /api/v1/screening/match, against the imported CSL fixture."""
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from compliance.screening import matching
from compliance.screening.models import ScreeningHit
from inventory.models import Organization
from tests.api.fleet import api_client

URL = "/api/v1/screening/match"


def screen_command(*args):
    out = StringIO()
    try:
        call_command("screen", *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def reader(db, django_user_model, settings):
    from compliance.access.models import RoleGrant

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = django_user_model.objects.create_user("auditor", password="pw-auditor-chipwatch")
    RoleGrant.objects.create(user=user, role="auditor", organization=None)
    return api_client(user)


def test_the_command_answers_the_best_entries_with_explained_scores_as_json(import_list):
    screening_list = import_list()
    status, out = screen_command("华为技术有限公司", "--country", "CN", "--json")
    answer = json.loads(out)
    assert status == 1  # an entry reached the threshold
    best = answer["results"][0]
    assert best["entry"]["name"] == "Huawei Technologies Co., Ltd." and best["match"] is True
    assert best["explanation"]["name"]["readings"]["query"] == matching.PINYIN_TRANSLATED
    assert best["explanation"]["country"]["result"] == "match"
    assert answer["list"]["sha256"] == screening_list.sha256 and answer["threshold"] == matching.DEFAULT_THRESHOLD
    assert [r["score"] for r in answer["results"]] == sorted((r["score"] for r in answer["results"]), reverse=True)
    assert Organization.objects.count() == 0 and ScreeningHit.objects.count() == 0


def test_the_command_exits_0_when_nothing_reaches_the_threshold_and_prints_why(import_list):
    import_list()
    status, out = screen_command("Huawei Technologies", "--country", "SG")
    assert status == 0
    assert "below threshold" in out and "country mismatch (-0.25)" in out


@pytest.mark.parametrize("args, message", [
    (["", "--json"], "name: give the name to screen"),
    (["Co. Ltd."], "no word left to compare"),
    (["Huawei", "--country", "China"], "--country: 'CHINA' is not an ISO 3166-1 alpha-2 code"),
    (["Huawei", "--limit", "0"], "--limit: must be between 1 and 50"),
])
def test_the_command_refuses_bad_input_naming_it(import_list, args, message):
    import_list()
    with pytest.raises(CommandError, match=message) as refused:
        call_command("screen", *args, stdout=StringIO())
    assert refused.value.returncode == 2


def test_the_command_refuses_to_answer_without_a_list(db):
    with pytest.raises(CommandError, match="no screening list has been imported"):
        call_command("screen", "Huawei", stdout=StringIO())


def test_the_api_answers_like_the_command(import_list, reader):
    import_list()
    response = reader.get(URL, {"name": "АО «Рособоронэкспорт»", "country": "ru", "limit": 2})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["query"] == {"name": "АО «Рособоронэкспорт»", "country": "RU", "limit": 2}
    assert len(body["results"]) <= 2 and body["results"][0]["entry"]["name"] == "ROSOBORONEXPORT OAO"
    assert body["results"][0]["explanation"]["name"]["legal_forms"]["query"] == ["ao"]
    _, out = screen_command("АО «Рособоронэкспорт»", "--country", "RU", "--limit", "2", "--json")
    assert json.loads(out)["results"] == body["results"]


def test_the_api_answers_400_naming_the_parameter(import_list, reader):
    import_list()
    for params, detail in [({}, "name: give the name"), ({"name": "Huawei", "country": "XX"}, "country: 'XX'"),
                           ({"name": "Huawei", "limit": "ten"}, "limit: must be a whole number"),
                           ({"name": "Huawei", "limit": "500"}, "limit: must be between 1 and 50")]:
        response = reader.get(URL, params)
        assert response.status_code == 400 and detail in response.json()["detail"], (params, response.content)


def test_the_api_answers_409_without_a_list(reader):
    response = reader.get(URL, {"name": "Huawei"})
    assert response.status_code == 409 and response.json()["error"] == "no_screening_list"


def test_the_api_needs_an_authenticated_user_with_a_role(import_list, django_user_model):
    import_list()
    assert api_client(None).get(URL, {"name": "Huawei"}).status_code in (401, 403)
    no_role = django_user_model.objects.create_user("nobody", password="pw-nobody-chipwatch")
    assert api_client(no_role).get(URL, {"name": "Huawei"}).status_code == 403


def test_the_api_reads_a_bounded_number_of_queries(import_list, reader, django_assert_max_num_queries):
    import_list()
    with django_assert_max_num_queries(6):  # token + role grants, list, candidates
        assert reader.get(URL, {"name": "Sugon Information Industry"}).status_code == 200
