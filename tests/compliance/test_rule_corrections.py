"""Issue 12's corrected facts, each on the day before and the day it took effect, through
`manage.py classify --json` and `GET /api/v1/classify` (the two must give the same answer)."""
import json
from io import StringIO

import pytest
from django.core.management import call_command

from compliance.core.destinations import (
    CASE_BY_CASE,
    NOT_PUBLISHED,
    POLICY_OF_DENIAL,
    PRESUMPTION_OF_APPROVAL,
    PRESUMPTION_OF_DENIAL,
    UNDETERMINED,
)

DENIAL = PRESUMPTION_OF_DENIAL


def cli(params: dict) -> dict:
    args = []
    for name, value in params.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    out = StringIO()
    call_command("classify", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def ask(admin_client):
    def both(**params):
        answer = cli(params)
        response = admin_client.get("/api/v1/classify", params)
        assert response.status_code == 200, response.content
        assert response.json() == answer
        return answer
    return both


def outcome(answer):
    return answer["license_required"], answer["review_policy"]


CASES = [
    # 1. Macau (88 FR 2821) effective 2023-01-17
    ("macau", dict(model="a100-sxm", destination="MO"), "2023-01-16", (False, None), "2023-01-17", (True, DENIAL)),
    # 2. Nicaragua into D:1 and D:5 on 2024-03-15
    ("nicaragua", dict(model="h100-sxm", destination="NI"), "2024-03-14", (False, None), "2024-03-15", (True, DENIAL)),
    # 3. Cambodia out of D:5 (State 2025-11-07), still D:1: approval; its parties leave the HQ rule
    ("cambodia", dict(model="h100-sxm", destination="KH"), "2025-11-06", (True, DENIAL),
     "2025-11-07", (True, PRESUMPTION_OF_APPROVAL)),
    ("cambodia-hq", dict(model="h100-sxm", destination="MY", headquarters="KH"), "2025-11-06", (True, DENIAL),
     "2025-11-07", (False, None)),
    # 4. 3A090.c HBM (89 FR 96790) to D:5/Macau from 2024-12-02
    ("hbm", dict(hbm_bandwidth_density=2.5, destination="CN"), "2024-12-01", (False, None), "2024-12-02", (True, DENIAL)),
    # 5. party headquartered in D:5 with the item elsewhere: denial from the first day of the HQ rule
    ("hq-elsewhere", dict(model="h100-sxm", destination="MY", headquarters="CN"), "2023-11-16", (False, None),
     "2023-11-17", (True, DENIAL)),
    # ... and still denial when 91 FR 1684 opens case-by-case for China itself
    ("hq-elsewhere-2026", dict(model="h200", destination="MY", headquarters="CN", movement="export_from_us"),
     "2026-01-14", (True, DENIAL), "2026-01-15", (True, DENIAL)),
    # 6. 91 FR 1684: case-by-case only for an export from the US
    ("case-by-case", dict(model="h200", destination="CN", movement="export_from_us"), "2026-01-14", (True, DENIAL),
     "2026-01-15", (True, CASE_BY_CASE)),
    ("case-by-case-reexport", dict(model="h200", destination="CN", movement="reexport"), "2026-01-14", (True, DENIAL),
     "2026-01-15", (True, DENIAL)),
    ("case-by-case-unknown", dict(model="h200", destination="CN"), "2026-01-14", (True, DENIAL),
     "2026-01-15", (True, UNDETERMINED)),
    ("case-by-case-in-country", dict(model="h200", destination="CN", movement="transfer_in_country"), "2026-01-14",
     (True, DENIAL), "2026-01-15", (True, DENIAL)),
    # 7. MI308X: no figures, named in the April 2025 notice
    ("mi308x", dict(model="MI308X", destination="CN"), "2025-04-14", (None, None), "2025-04-15", (True, UNDETERMINED)),
    # 8. Part 746: Russia from 2022-02-24 (before 3A090 existed the ECCN decides: undetermined)
    ("russia", dict(model="a100-sxm", destination="RU"), "2022-02-23", (False, None), "2022-02-24", (None, None)),
    # ... Belarus from 2022-03-02 (unconfirmed date), Syria's 2025 revision (all items -> CCL items)
    ("belarus", dict(model="a100-sxm", destination="BY"), "2022-03-01", (False, None), "2022-03-02", (None, None)),
    ("syria-2025", dict(model="l20", destination="SY"), "2025-09-01", (True, POLICY_OF_DENIAL), "2025-09-02",
     (None, None)),
    ("syria-2025-3a090", dict(model="h100-sxm", destination="SY"), "2025-09-01", (True, POLICY_OF_DENIAL),
     "2025-09-02", (True, DENIAL)),
    # 9. is-informed letters of 2022-08-26 and 2023-10-23
    ("letter-2022", dict(model="a100-sxm", destination="CN"), "2022-08-25", (False, None), "2022-08-26",
     (True, NOT_PUBLISHED)),
    ("letter-2022-russia", dict(model="h100-sxm", destination="RU"), "2022-08-25", (None, None), "2022-08-26",
     (True, NOT_PUBLISHED)),
    ("notice-2023", dict(model="h800-sxm", destination="CN"), "2023-10-22", (False, None), "2023-10-23",
     (True, NOT_PUBLISHED)),
    ("notice-2023-a800", dict(model="a800-sxm", destination="CN"), "2023-10-22", (False, None), "2023-10-23",
     (True, NOT_PUBLISHED)),
    ("notice-2023-l40s-d1", dict(model="l40s", destination="VN"), "2023-10-22", (False, None), "2023-10-23",
     (True, NOT_PUBLISHED)),
    # the letters end when the rules they announced take over
    ("letter-2022-to-rule", dict(model="a100-sxm", destination="CN"), "2022-10-06", (True, NOT_PUBLISHED),
     "2022-10-07", (True, DENIAL)),
    ("notice-2023-to-rule", dict(model="h800-sxm", destination="CN"), "2023-11-16", (True, NOT_PUBLISHED),
     "2023-11-17", (True, DENIAL)),
    # systems containing the named chips (the 2022 letter names "DGX or any other systems")
    ("letter-2022-dgx", dict(model="NVIDIA DGX H100", destination="CN"), "2022-08-25", (False, None), "2022-08-26",
     (True, NOT_PUBLISHED)),
]


@pytest.mark.django_db
@pytest.mark.parametrize("name, params, before, expected_before, on, expected_on", CASES, ids=[c[0] for c in CASES])
def test_corrected_fact_on_the_day_before_and_the_day(ask, name, params, before, expected_before, on, expected_on):
    assert outcome(ask(**params, as_of=before)) == expected_before
    assert outcome(ask(**params, as_of=on)) == expected_on


@pytest.mark.django_db
def test_what_the_answers_state(ask):
    hbm = ask(hbm_bandwidth_density=2.5, destination="CN", as_of="2024-12-02")
    assert any("740.25" in c for c in hbm["conditions"]) and any("packaging" in c for c in hbm["conditions"])
    cbc = ask(model="h200", destination="CN", movement="export_from_us", as_of="2026-01-15")
    assert any("50 %" in c for c in cbc["conditions"]) and any("third-party testing" in c for c in cbc["conditions"])
    assert any("movement" in m for m in ask(model="h200", destination="CN", as_of="2026-01-15")["missing"])
    mi308x = ask(model="MI308X", destination="CN", as_of="2025-04-14")
    assert mi308x["missing"] == ["TPP"] and mi308x["headline"].startswith("undetermined")
    assert any("MI308" in r for r in ask(model="MI308X", destination="CN", as_of="2025-04-15")["reasons"])
    russia = ask(model="a100-sxm", destination="RU", as_of="2023-06-01")
    assert outcome(russia) == (True, POLICY_OF_DENIAL) and "746.8" in russia["reasons"][0]
    assert any("ECCN outside 3A090" in m for m in ask(model="a100-sxm", destination="RU", as_of="2022-02-24")["missing"])


@pytest.mark.django_db
@pytest.mark.parametrize("destination, section", [("IR", "746.7"), ("KP", "746.4"), ("CU", "746.2")])
@pytest.mark.parametrize("model", ["l20", "h100-sxm"])
def test_part_746_embargoes_in_force_before_the_first_rule(ask, destination, section, model):
    for as_of in ("2022-08-26", "2024-06-01"):
        answer = ask(model=model, destination=destination, as_of=as_of)
        assert outcome(answer) == (True, POLICY_OF_DENIAL)
        assert any(section in reason and "any item subject to the EAR" in reason for reason in answer["reasons"])


@pytest.mark.django_db
def test_embargo_answers_name_what_decides(ask):
    belarus = ask(model="a100-sxm", destination="BY", as_of="2022-03-02")
    assert any("ECCN outside 3A090" in m for m in belarus["missing"]) and belarus["unconfirmed"]
    syria = ask(model="l20", destination="SY", as_of="2025-09-02")
    assert any("746.9" in r for r in syria["reasons"]) and any("ECCN outside 3A090" in m for m in syria["missing"])


@pytest.mark.django_db
@pytest.mark.parametrize("as_of, citation", [("2025-01-12", "15 CFR 744.23(a)(3)"),
                                             ("2025-01-13", "15 CFR 742.6(a)(6)(iii)(A)")])
def test_headquarters_rule_citation_moves_on_2025_01_13(ask, as_of, citation):
    answer = ask(model="h100-sxm", destination="MY", ultimate_parent_hq="CN", as_of=as_of)
    assert citation in answer["reasons"][0]


@pytest.mark.django_db
def test_answers_resting_on_unconfirmed_rows_say_so(ask):
    # Cyprus in D:5 after CSET's Dec 2023 account is unconfirmed: the HQ rule's answer rests on it.
    cyprus = ask(model="h100-sxm", destination="MY", headquarters="CY", as_of="2025-06-01")
    assert cyprus["license_required"] is True and "unconfirmed" in cyprus["unconfirmed"][0]
    assert cyprus["headline"].endswith("(rests on unconfirmed data, see unconfirmed)")
    # The UAE's move from D:4 to A:5 has no rule found: before and after, the answer says it rests on it.
    for as_of in ("2024-06-01", "2026-08-01"):
        uae = ask(model="h100-sxm", destination="AE", as_of=as_of)
        assert uae["license_required"] is True and any("AE in Country Group" in u for u in uae["unconfirmed"])
    # A confirmed answer carries no such note.
    assert ask(model="h100-sxm", destination="CN", as_of="2024-06-01")["unconfirmed"] == []


@pytest.mark.django_db
def test_short_names_and_parameter_names(ask, admin_client):
    assert ask(model="H100", destination="CN", as_of="2024-06-01")["chip"] == "h100-sxm"
    assert ask(model="NVIDIA H100", as_of="2024-06-01")["eccn"] == "3A090.a"
    bad = admin_client.get("/api/v1/classify", {"model": "H100", "tpp": "5"})
    assert bad.status_code == 400 and "exactly one of model, pci_device_id" in bad.json()["detail"]
    assert "--" not in bad.json()["detail"]
    miss = admin_client.get("/api/v1/classify", {"model": "H9000"})
    assert miss.status_code == 400 and "did you mean" in miss.json()["detail"] and "'H100'" in miss.json()["detail"]


@pytest.mark.django_db
def test_rtx_4090_headline_keeps_the_nac_notification(ask):
    answer = ask(model="RTX 4090", destination="CN", as_of="2024-06-01")
    assert answer["license_required"] is False and answer["license_exception"] == "NAC"
    assert "notify BIS" in answer["headline"]


@pytest.mark.django_db
def test_unconfirmed_rows_on_their_boundary_days(ask):
    # Cyprus: in D:5 per CSET up to 2023-12-04 (secondary); from 2023-12-05 only an unconfirmed row keeps it there.
    cyprus = dict(model="h100-sxm", destination="MY", headquarters="CY")
    before, on = ask(**cyprus, as_of="2023-12-04"), ask(**cyprus, as_of="2023-12-05")
    assert outcome(before) == outcome(on) == (True, DENIAL)
    assert before["unconfirmed"] == [] and any("CY" in u and "D:5" in u for u in on["unconfirmed"])
    # The day the 2026 eCFR no longer lists it: when it left is unknown, so the stricter answer stays, said so.
    gone = ask(**cyprus, as_of="2026-07-23")
    assert outcome(gone) == (True, DENIAL) and any("unless this unconfirmed data holds" in u for u in gone["unconfirmed"])
    # The UAE on the last day of its unconfirmed D:4 row and the first of its unconfirmed A:5 row.
    for as_of in ("2026-07-22", "2026-07-23"):
        uae = ask(model="h100-sxm", destination="AE", as_of=as_of)
        assert uae["license_required"] is True and any("AE in Country Group" in u for u in uae["unconfirmed"])
