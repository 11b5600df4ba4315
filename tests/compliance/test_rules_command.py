"""`manage.py rules timeline [--country CC] [--since DATE] [--json]` and `rules doc`: what changed when, with
sources, as the officer page and docs/rules.md show it."""
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from compliance.core.timeline import render_markdown

DOCS_RULES = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def rules(*args) -> str:
    out = StringIO()
    call_command("rules", *args, stdout=out)
    return out.getvalue()


def test_timeline_for_a_country_since_a_date_with_sources():
    text = rules("timeline", "--country", "kh", "--since", "2025-01-01")
    lines = text.splitlines()
    leaves = next(i for i, line in enumerate(lines) if "KH leaves D:5" in line)
    assert lines[leaves].startswith("2025-11-07  KH ")
    assert "source:" in lines[leaves + 1] and "22 CFR 126.1" in lines[leaves + 1] and "[secondary]" in lines[leaves + 1]
    assert "2026-01-15  all" in text and "91 FR 1684" in text
    assert "NI joins D:5" not in text and "87 FR 62186" not in text  # another country; before --since


def test_timeline_as_json_every_event_dated_and_sourced():
    events = json.loads(rules("timeline", "--country", "HK", "--since", "2022-08-26", "--json"))
    assert events and all(e["source"] and e["confidence"] in ("confirmed", "secondary", "unconfirmed")
                          for e in events)
    assert all(e["date"] >= "2022-08-26" and e["country"] in (None, "CN") for e in events)  # HK is China
    assert [e["date"] for e in events] == sorted(e["date"] for e in events)
    assert any(e["kind"] == "is-informed notice" and e["date"] == "2022-08-26" for e in events)


def test_whole_timeline_lists_the_corrected_facts_on_their_days():
    text = rules("timeline")
    for day, what in (("2023-01-17", "MO joins Macau"), ("2024-03-15", "NI joins D:5"),
                      ("2024-03-15", "NI leaves B"), ("2025-11-07", "KH leaves D:5"),
                      ("2022-02-24", "Russia: sanctions under 746.8")):
        assert any(line.startswith(day) and what in line for line in text.splitlines()), (day, what)


@pytest.mark.parametrize("args, message", [
    (("--since", "soon"), "--since 'soon' is not a date"),
    (("--country", "Cambodia"), "--country: not an ISO 3166-1 alpha-2 code: 'Cambodia'"),
])
def test_bad_filters_are_errors_naming_them(args, message):
    with pytest.raises(CommandError, match=message):
        rules("timeline", *args)


def test_rules_doc_prints_what_docs_rules_md_holds():
    assert rules("doc") == render_markdown() == DOCS_RULES.read_text(encoding="utf-8")


def test_timeline_has_the_affiliates_rule_systems_and_fdp_dates():
    events = json.loads(rules("timeline", "--json"))
    said = {(e["date"], e["kind"]): e for e in events if e["kind"] in ("entity list", "system paragraph",
                                                                      "foreign direct product")}
    assert "Affiliates rule in force" in said["2025-09-29", "entity list"]["summary"]
    assert "suspended to 2026-11-09" in said["2025-11-10", "entity list"]["summary"]
    after = said["2026-11-10", "entity list"]
    assert "not on record" in after["summary"] and after["confidence"] == "unconfirmed"
    assert any(e["summary"].startswith("4A090.b in force") and e["date"] == "2023-11-17" for e in events)
    assert any("5A992.z" in e["summary"] and e["date"] == "2023-11-17" for e in events)
    assert any(e["summary"].startswith("15 CFR 734.9(h)") and e["date"] == "2022-10-07" for e in events)
    assert any("footnote 4" in e["summary"] and e["date"] == "2022-10-07" for e in events)
