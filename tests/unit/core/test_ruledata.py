"""Rule data files: validated at load (a bad row names file and row), dated rows, the timeline and
docs/rules.md generated from them."""
import shutil
from datetime import date
from pathlib import Path

import pytest

from compliance.core.ruledata import DATA_DIR, FILES, RuleDataError, default_rule_data, load_rule_data
from compliance.core.timeline import render_markdown, timeline

DOCS_RULES = Path(__file__).resolve().parents[3] / "docs" / "rules.md"


@pytest.fixture
def data_copy(tmp_path):
    for name in (*FILES.values(), "rules.schema.json"):
        shutil.copy(DATA_DIR / name, tmp_path / name)
    return tmp_path


def corrupt(directory, file, old, new):
    path = directory / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("file, old, new, message", [
    ("country_groups.yaml", "confidence: unconfirmed\n    note: \"absent", "confidence: maybe\n    note: \"absent",
     r"country_groups.yaml: memberships row 4 \(D:4\), confidence: 'maybe' is not one of"),
    ("country_groups.yaml", "{group: D:1, countries: [NI], from: 2024-03-15", "{group: D:1, countries: [NIC], from: 2024-03-15",
     r"country_groups.yaml: memberships row 2 \(D:1\), countries/0"),
    ("country_groups.yaml", "{group: D:1, countries: [NI], from: 2024-03-15", "{group: D:9, countries: [NI], from: 2024-03-15",
     r"country_groups.yaml row 2: group 'D:9' is not declared"),
    ("embargoes.yaml", "from: 2022-02-24", "from: 2022-02-24\n    until: 2021-01-01",
     r"embargoes.yaml: embargoes row 1: 'until' 2021-01-01 is not after 'from' 2022-02-24"),
    ("notices.yaml", "source: NVIDIA-8K-2022-08", "source: NOWHERE",
     r"notices.yaml: notices row 1: source 'NOWHERE' is not in the file's sources table"),
    ("notices.yaml", "destinations: [D:1, D:4, D:5, Macau]", "destinations: [D:1, Mars]",
     r"notices.yaml row 3 \(nvidia-2023-10-23\): 'Mars' is neither a group nor an ISO code"),
    ("guidance.yaml", "    confidence: secondary\n", "",
     r"guidance.yaml: guidance row 1 \(ai-diffusion-non-enforcement\): 'confidence' is a required property"),
    ("embargoes.yaml", "from: 2022-03-02", "from: 2022-13-02", r"embargoes.yaml: embargoes row 2: '2022-13-02' is not a date"),
])
def test_a_bad_row_is_an_error_naming_file_and_row(data_copy, file, old, new, message):
    corrupt(data_copy, file, old, new)
    with pytest.raises(RuleDataError, match=message):
        load_rule_data(data_copy)


def test_unconfirmed_rows_must_say_why(data_copy):
    corrupt(data_copy, "notices.yaml", "    confidence: unconfirmed\n    note: \"AMD's letter", "    confidence: unconfirmed\n    xnote: \"AMD's letter")
    with pytest.raises(RuleDataError, match=r"notices.yaml: notices row 2"):
        load_rule_data(data_copy)


def test_every_row_has_a_resolved_source_and_confidence():
    data = default_rule_data()
    rows = (*data.memberships, *data.aliases, *data.embargoes, *data.notices, *data.guidance)
    assert rows and all(r.source and r.confidence in ("confirmed", "secondary", "unconfirmed") for r in rows)
    assert all(r.note for r in rows if r.confidence == "unconfirmed")


@pytest.mark.parametrize("group, country, before, on, member_before, member_on", [
    ("Macau", "MO", date(2023, 1, 16), date(2023, 1, 17), False, True),
    ("D:5", "NI", date(2024, 3, 14), date(2024, 3, 15), False, True),
    ("D:1", "NI", date(2024, 3, 14), date(2024, 3, 15), False, True),
    ("B", "NI", date(2024, 3, 14), date(2024, 3, 15), True, False),
    ("D:5", "KH", date(2025, 11, 6), date(2025, 11, 7), True, False),
    ("D:1", "KH", date(2025, 11, 6), date(2025, 11, 7), True, True),
])
def test_memberships_change_on_their_day(group, country, before, on, member_before, member_on):
    members = default_rule_data().groups[group].members
    assert (country in members(before), country in members(on)) == (member_before, member_on)


def test_d4_lists_belarus_venezuela_and_macau_and_d5_not_macau():
    data = default_rule_data()
    assert {"BY", "VE", "MO"} <= data.groups["D:4"].members(date(2026, 8, 1))
    assert "MO" in data.groups["D:1"].members(date(2026, 8, 1))
    assert "MO" not in data.groups["D:5"].members(date(2026, 8, 1))


def test_variants_revert_unconfirmed_rows_for_the_countries_asked():
    data = default_rule_data()
    reverted = [rows for rows, _ in data.variants(("AE",), date(2026, 8, 1))]
    described = [" ".join(r.describe() for r in rows) for rows in reverted]
    assert any("D:4" in d for d in described) and any("A:5" in d for d in described)
    assert data.variants(("DE",), date(2024, 6, 1)) == []


def test_timeline_filters_by_country_and_date():
    cambodia = timeline(country="KH", since=date(2025, 1, 1))
    assert any(e.date == date(2025, 11, 7) and e.summary == "KH leaves D:5" for e in cambodia)
    assert all(e.country in (None, "KH") and e.date >= date(2025, 1, 1) for e in cambodia)
    assert any(e.kind == "rule" and e.source == "91 FR 1684" for e in cambodia)
    assert all(e.source for e in timeline())


def test_docs_rules_md_is_current():
    assert DOCS_RULES.read_text(encoding="utf-8") == render_markdown(), (
        "docs/rules.md is not current: run `python manage.py rules doc --write`")


def test_the_docs_check_fails_when_the_data_changes(data_copy):
    # What CI's check (test_docs_rules_md_is_current) guards against: a data edit without `rules doc --write`.
    corrupt(data_copy, "country_groups.yaml", "{group: D:1, countries: [NI], from: 2024-03-15",
            "{group: D:1, countries: [NI], from: 2024-03-16")
    stale = render_markdown(load_rule_data(data_copy))
    assert stale != DOCS_RULES.read_text(encoding="utf-8") and "| D:1 | NI | 2024-03-16 |" in stale
