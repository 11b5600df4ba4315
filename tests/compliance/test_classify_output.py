"""What an export-control officer reads from `manage.py classify` (text and --json) and
`GET /api/v1/classify`: no line said twice, a source said once with its confidence, the item
named by its catalog key, no Python reprs."""
import json
import re
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command

from compliance.core import LicenseDetermination, chip, classify_or_undetermined, determine_license
from compliance.core.systems import classify_components, default_systems
from compliance.management.commands.classify import eccn_label

MI308X_CN = ("--model", "MI308X", "--as-of", "2025-06-01", "--destination", "CN")
AI_DIFFUSION_WARNING = "90 FR 4544 (AI Diffusion) is on the books but not applied"
REUTERS = "Commerce Department statement reported by Reuters (Apr 15 2025)"


def classify(*args, as_json=False):
    out = StringIO()
    call_command("classify", *args, *(("--json",) if as_json else ()), stdout=out)
    return json.loads(out.getvalue()) if as_json else out.getvalue()


def test_a_warning_shared_by_several_hypotheses_is_given_once():
    # MI308X's TPP is unknown: 3A090.a with and without License Exception NAC both carry the AI
    # Diffusion non-enforcement warning (90 FR 4544; BIS announcement of May 13 2025).
    answer = classify(*MI308X_CN, as_json=True)
    assert [w for w in answer["warnings"] if w.startswith(AI_DIFFUSION_WARNING)] == [answer["warnings"][0]]
    for key in ("reasons", "warnings", "missing", "conditions", "unconfirmed", "basis"):
        assert len(answer[key]) == len(set(answer[key])), key
    assert classify(*MI308X_CN).count(AI_DIFFUSION_WARNING) == 1
    core = determine_license(classify_or_undetermined(chip("mi308x"), date(2025, 6, 1)), destination="CN",
                             as_of=date(2025, 6, 1))
    assert len(core.warnings) == len(set(core.warnings)) == 1


def test_a_notice_source_is_said_once_with_its_confidence():
    reasons = classify(*MI308X_CN, as_json=True)["reasons"]
    notice = next(r for r in reasons if r.startswith("licence required by Licence requirement for AMD's MI308"))
    assert notice.count(REUTERS) == 1
    assert f"(secondary: {REUTERS}" in notice
    assert classify(*MI308X_CN).count(REUTERS) == 1  # the basis (not printed) has its own note


def test_an_embargo_says_its_section_and_its_source_once():
    # 15 CFR 746.8 (Russia), source 87 FR 12226, secondary.
    answer = classify("--model", "A100", "--as-of", "2023-06-01", "--destination", "RU", as_json=True)
    (embargo,) = [r for r in answer["reasons"] if "746.8" in r]
    assert embargo.count("87 FR 12226") == 1 and "(15 CFR 746.8; secondary: 87 FR 12226" in embargo
    assert all(b.count("eCFR, 15 CFR part 740") <= 1 for b in answer["basis"])


@pytest.mark.parametrize("system", default_systems().systems, ids=lambda s: s.key)
def test_a_system_is_headlined_by_its_catalog_key(system):
    first = classify("--model", system.model, "--as-of", "2023-11-17", "--destination", "CN").splitlines()[0]
    assert first.startswith(f"{system.key} ({system.model}) as of 2023-11-17: ECCN ")
    assert classify("--model", system.key, "--as-of", "2023-11-17", as_json=True)["system"]["key"] == system.key


def test_an_hbm_stack_and_bare_figures_are_not_called_spec():
    hbm = classify("--hbm-bandwidth-density", "3.5", "--as-of", "2025-01-01", "--destination", "CN")
    assert hbm.splitlines()[0] == "HBM stack as of 2025-01-01: ECCN 3A090.c (89 FR 96790)"
    assert hbm.splitlines()[1] == "  HBM memory bandwidth density 3.5 GB/s/mm2"
    figures = classify("--tpp", "5000", "--as-of", "2024-01-01", "--destination", "CN")
    assert figures.startswith("chip of the figures given as of 2024-01-01: ECCN undetermined "
                              "(designed or marketed for datacenters unknown)")
    assert "TPP 5000," in figures and "spec" not in figures
    assert classify("--hbm-bandwidth-density", "3.5", "--as-of", "2025-01-01",
                    as_json=True)["hbm_bandwidth_density"] == 3.5


@pytest.mark.parametrize("args", [
    MI308X_CN,
    ("--model", "MI308X", "--as-of", "2025-06-01"),
    ("--hbm-bandwidth-density", "3.5", "--as-of", "2025-01-01", "--destination", "CN"),
    ("--model", "H20", "--as-of", "2025-04-09", "--destination", "CN"),
    ("--model", "H100", "--as-of", "2022-06-01", "--destination", "RU"),
    ("--tpp", "4000", "--as-of", "2023-01-01", "--destination", "CN"),  # I/O rate unknown but not needed
])
def test_no_python_reprs_in_the_text(args):
    text = classify(*args)
    assert not re.search(r"\b(None|True|False)\b", text), text


def test_explanation_steps_read_in_words():
    lines = classify("--model", "H20", "--as-of", "2025-04-09").splitlines()
    assert "  - Framework for AI Diffusion (Jan 2025) in force on 2025-04-09 (from 2025-01-13): yes  " \
           "[90 FR 4544]" in lines
    assert "  - designed or marketed for datacenters == no: yes → not met  [88 FR 73458, Note 2 to 3A090]" in lines
    assert "  - TPP >= 4800: 2368 → not met  [88 FR 73458, 3A090.a.1]" in lines
    unknown = classify("--tpp", "4000", "--as-of", "2023-01-01")
    assert "  - aggregate bidirectional I/O rate (GB/s) >= 600: unknown → unknown  [87 FR 62186, 3A090.a]" in unknown


def test_the_headline_eccn_is_the_classifications_not_the_licence_answers_unknown():
    # Before 87 FR 62186 (2022-10-07) nothing is 3A090; what the Russia answer lacks is the ECCN
    # outside 3A090 (15 CFR 746.8), which does not make the 3A090 classification undetermined.
    text = classify("--model", "H100", "--as-of", "2022-06-01", "--destination", "RU")
    assert text.splitlines()[0] == "h100-sxm as of 2022-06-01: ECCN not 3A090 (no 3A090 rule in force)"
    assert "licence to RU: undetermined: missing the item's ECCN outside 3A090" in text
    answer = classify(*MI308X_CN, as_json=True)
    assert answer["classification_missing"] == ["tpp"] and answer["missing"] == ["TPP"]
    assert classify(*MI308X_CN).startswith("mi308x as of 2025-06-01: ECCN undetermined (TPP unknown)")


def test_an_undetermined_chip_inside_a_system_is_headlined_undetermined():
    verdict = classify_components([(chip("mi308x"), 8)], date(2025, 6, 1)).to_dict()
    assert eccn_label(verdict).startswith("undetermined (mi308x: TPP unknown")


def test_the_movement_given_is_shown_on_the_licence_line():
    text = classify("--model", "NVIDIA H800", "--as-of", "2023-11-17", "--destination", "CN",
                    "--movement", "reexport")
    assert "  licence to CN (reexport): licence required (presumption of denial)" in text


@pytest.mark.django_db
def test_the_api_answers_without_the_repeats(admin_client):
    body = admin_client.get("/api/v1/classify", {"model": "MI308X", "as_of": "2025-06-01",
                                                 "destination": "CN"}).json()
    assert body == classify(*MI308X_CN, as_json=True)
    assert len(body["warnings"]) == len(set(body["warnings"]))
    assert sum(r.count(REUTERS) for r in body["reasons"]) == 1
    dgx = admin_client.get("/api/v1/classify", {"model": "NVIDIA DGX H100", "as_of": "2023-11-17"}).json()
    assert (dgx["system"]["key"], dgx["chip"]) == ("nvidia-dgx-h100", None)


def test_missing_facts_that_hold_commas_stay_apart():
    # A PRC-made chip (15 CFR 734.9(h), (e)(1)): each missing fact lists ECCNs with commas of its own.
    args = ("--model", "ascend-910b", "--as-of", "2025-06-01", "--destination", "AE")
    missing = classify(*args, as_json=True)["missing"]
    assert len(missing) > 1 and any(", " in m for m in missing)
    assert f"    missing: {'; '.join(missing)}" in classify(*args).splitlines()
    assert LicenseDetermination(None, None, None, (), (), missing=("a, b", "c")).headline == "undetermined: missing a, b; c"


def test_a_foreign_made_chips_unconfirmed_rows_speak_of_the_answer_if_subject():
    # The UAE's D:4 row is unconfirmed; it decides the answer only if the EAR reaches the chip.
    answer = classify("--model", "ascend-910b", "--as-of", "2025-06-01", "--destination", "AE", as_json=True)
    assert answer["license_required"] is None and answer["unconfirmed"]
    assert all(n.startswith("if the chip is subject to the EAR: the answer rests on AE in Country Group D:4")
               for n in answer["unconfirmed"])
    assert answer["license_if_subject_to_ear"]["unconfirmed"][0].startswith("the answer rests on AE")
