"""Parties (Entity List terms, the Affiliates rule) and where a chip comes from (the FDP paragraphs)."""
import json
from datetime import date
from io import StringIO

import pytest
import yaml
from django.core.management import call_command

from compliance.core.parties import (
    IN_FORCE,
    NOT_YET,
    SUSPENDED,
    UNKNOWN,
    PartyDataError,
    affiliate_determination,
    affiliates_rule_state,
    listed_party_determination,
    load_parties,
)


@pytest.mark.parametrize("day, state", [
    (date(2025, 9, 28), NOT_YET), (date(2025, 9, 29), IN_FORCE), (date(2025, 11, 9), IN_FORCE),
    (date(2025, 11, 10), SUSPENDED), (date(2026, 11, 9), SUSPENDED), (date(2026, 11, 10), UNKNOWN),
])
def test_affiliates_rule_dates(day, state):
    assert affiliates_rule_state(day)[0] == state


def test_after_the_suspension_the_switch_decides_and_unknown_says_so():
    state, why = affiliates_rule_state(date(2026, 12, 1))
    assert state == UNKNOWN and "not on record" in why
    assert affiliates_rule_state(date(2026, 12, 1), applies_after_suspension=True)[0] == IN_FORCE
    assert affiliates_rule_state(date(2026, 12, 1), applies_after_suspension=False)[0] == SUSPENDED


def test_entity_list_entry_terms_and_footnote_4():
    found = listed_party_determination(party="Biren GmbH", entry_names=["Biren Technology"], as_of=date(2024, 1, 1))
    assert (found.license_required, found.review_policy) == (True, "presumption of denial")
    assert "licence required for all items subject to the EAR" in found.reasons[0]
    [footnote] = found.footnotes
    assert footnote.number == 4 and footnote.fdp == "15 CFR 734.9(e)(2)"
    # Before the party was listed, nothing.
    early = listed_party_determination(party="Biren GmbH", entry_names=["Biren Technology"], as_of=date(2023, 10, 16),
                                       listed_since=date(2023, 10, 17))
    assert early.license_required is False


def test_an_entry_whose_terms_are_not_on_record_still_requires_a_licence_and_says_what_is_missing():
    found = listed_party_determination(party="X", entry_names=["Unknown Listed Co."], as_of=date(2024, 1, 1),
                                       federal_register_notice="89 FR 1234")
    assert found.license_required is True and found.review_policy is None
    assert "not on record" in found.warnings[0] and "89 FR 1234" in found.warnings[0]


EL_ALL_ITEMS = "For all items subject to the EAR. (See §§ 734.9(e) and 744.11 of the EAR)."


@pytest.mark.parametrize("requirement, policy, required, review_policy", [
    (EL_ALL_ITEMS, "Presumption of denial.", True, "presumption of denial"),
    (EL_ALL_ITEMS, "Case-by-case review.", True, "case-by-case"),
    # a policy that depends on the item's ECCN is not chosen for it
    (EL_ALL_ITEMS, "Case-by-case review for ECCN 5A992; presumption of denial for all other items.", True, None),
    ("For all items subject to the EAR, except food and medicine designated EAR99.", "Policy of denial.", True,
     "policy of denial"),
    ("For all items subject to the EAR except items described in 744.21(a)(1).", "Presumption of denial.", None,
     None),
])
def test_an_entry_s_own_published_terms_decide(requirement, policy, required, review_policy):
    found = listed_party_determination(party="Inspur Europe", entry_names=["Inspur Group"], as_of=date(2024, 1, 1),
                                       list_requirement=requirement, list_policy=policy)
    assert (found.license_required, found.review_policy) == (required, review_policy)
    assert "as published in the imported screening list" in found.reasons[0] and repr(policy) in found.reasons[0]
    if required and review_policy is None:
        assert any("does not name one review policy" in w for w in found.warnings)
    if "734.9(e)" in requirement:  # Inspur's footnote is not in parties.yaml: said so
        assert any("734.9(e)" in w and "not on record" in w for w in found.warnings)


def test_published_terms_keep_the_footnotes_on_record():
    found = listed_party_determination(party="Sugon", entry_names=["Sugon"], as_of=date(2024, 1, 1),
                                       list_requirement=EL_ALL_ITEMS, list_policy="Presumption of denial.")
    assert [f.number for f in found.footnotes] == [4] and not any("734.9(e)" in w for w in found.warnings)


@pytest.mark.parametrize("day, share, required", [
    (date(2025, 10, 1), 0.5, True), (date(2025, 10, 1), 0.49, False), (date(2025, 10, 1), None, None),
    (date(2026, 1, 1), 0.9, False), (date(2026, 12, 1), 0.9, None),
])
def test_affiliate_of_a_listed_owner(day, share, required):
    owner = listed_party_determination(party="Owner", entry_names=["Huawei"], as_of=day)
    found = affiliate_determination(party="Sub", owner=owner, owner_name="Owner", ownership_share=share, as_of=day)
    assert found.license_required is required
    if required:
        assert found.review_policy == "presumption of denial"


def test_bad_party_row_names_file_and_row(tmp_path):
    document = yaml.safe_load(open("compliance/core/data/parties.yaml"))
    document["entries"][1]["review_policy"] = "maybe"
    path = tmp_path / "parties.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(PartyDataError, match=r"parties.yaml: entries\[1\]: review_policy must be one of"):
        load_parties(path)


def classify_json(*args):
    out = StringIO()
    call_command("classify", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_a_foreign_made_chip_names_the_fdp_paragraphs_instead_of_classifying_as_us_origin():
    answer = classify_json("--model", "ascend-910b", "--as-of", "2025-06-01", "--destination", "CN",
                           "--movement", "reexport")
    assert answer["eccn"] == "3A090.a"  # its parameters: what 734.9(h)'s product scope asks
    assert answer["license_required"] is None
    place = answer["jurisdiction"]
    assert place["subject_to_ear"] is None
    assert [p["paragraph"] for p in place["fdp_paths"]] == ["15 CFR 734.9(h)", "15 CFR 734.9(e)(1)"]
    assert any("direct product of US-origin technology" in fact for fact in place["deciding_facts"])
    assert answer["license_if_subject_to_ear"]["license_required"] is True
    # Outside the 742.6(a)(6) scope 734.9(h) borrows, only the producer's footnote 1 path is left.
    germany = classify_json("--model", "ascend-910b", "--as-of", "2025-06-01", "--destination", "DE")
    assert [p["paragraph"] for p in germany["jurisdiction"]["fdp_paths"]] == ["15 CFR 734.9(e)(1)"]


def test_a_us_origin_chip_is_subject_and_classified_as_such():
    answer = classify_json("--model", "NVIDIA H100 80GB HBM3", "--as-of", "2025-06-01", "--destination", "CN",
                           "--movement", "export_from_us")
    assert answer["jurisdiction"]["subject_to_ear"] is True and "15 CFR 734.3(a)" in answer["jurisdiction"]["basis"]
    assert answer["license_required"] is True and "license_if_subject_to_ear" not in answer


@pytest.mark.django_db
def test_the_api_gives_the_same_foreign_made_answer(users):
    from tests.api.fleet import api_client

    response = api_client(users["officer"]).get("/api/v1/classify", {
        "model": "ascend-910c", "as_of": "2025-06-01", "destination": "CN", "movement": "reexport"})
    assert response.status_code == 200, response.content
    assert response.json() == classify_json("--model", "ascend-910c", "--as-of", "2025-06-01", "--destination", "CN",
                                            "--movement", "reexport")
    assert response.json()["jurisdiction"]["subject_to_ear"] is None


@pytest.mark.parametrize("section, index, field, value, message", [
    ("vendors", 3, "subject", "maybe", r"origins.yaml: vendors\[3\]: subject must be one of"),
    ("vendors", 0, "source", "", r"origins.yaml: vendors\[0\]: missing source"),
    ("fdp_paths", 0, "effective", "soon", r"origins.yaml: fdp_paths\[0\]: 'effective' must be a date"),
])
def test_bad_origin_row_names_file_and_row(tmp_path, section, index, field, value, message):
    from compliance.core.origin import ORIGINS_PATH, OriginDataError, load_origins

    document = yaml.safe_load(ORIGINS_PATH.read_text(encoding="utf-8"))
    document[section][index][field] = value
    path = tmp_path / "origins.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(OriginDataError, match=message):
        load_origins(path)
