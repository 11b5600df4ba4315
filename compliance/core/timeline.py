"""What changed when: every dated rule version and every dated data row as one ordered list of events,
each with its source and confidence; also rendered as ``docs/rules.md``.

Why one list: an officer asking "what applied to Cambodia in December 2025" needs the rule versions
(``regimes.py``), the data rows (``ruledata.py``) and the dated facts about systems, parties and where a
chip comes from (``systems.py``, ``parties.py``, ``origin.py``) side by side, with where each comes from.

Public API
    timeline(country=None, since=None, data=None) -> tuple[Event, ...]   oldest first; undated rows first
        country: ISO code; keeps events naming it and those that apply everywhere
    Event: date (None = in force before 2022-08-26), country (None = everywhere), kind, summary, source,
        confidence; .to_dict()
    render_markdown(data=None) -> str                                     the text of docs/rules.md
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

from .origin import default_origins
from .parties import default_parties
from .regimes import REGIMES
from .ruledata import (CONFIRMED, SECONDARY, UNCONFIRMED, Alias, Embargo, Membership, Notice, RuleData,
                       default_rule_data)
from .systems import default_systems


@dataclass(frozen=True)
class Event:
    date: date | None
    country: str | None
    kind: str
    summary: str
    source: str
    confidence: str

    def to_dict(self) -> dict:
        data = asdict(self)
        data["date"] = self.date.isoformat() if self.date else None
        return data


def timeline(country: str | None = None, since: date | None = None, data: RuleData | None = None) -> tuple[Event, ...]:
    data = data or default_rule_data()
    wanted = data.country(country) if country else None
    events = [*_regime_events(), *_row_events(data), *_other_events()]
    kept = [e for e in events
            if (wanted is None or e.country in (None, wanted))
            and (since is None or (e.date is not None and e.date >= since))]
    return tuple(sorted(kept, key=lambda e: (e.date or date.min, e.country or "", e.kind, e.summary)))


def _regime_events():
    for regime in REGIMES:
        yield Event(regime.effective, None, "rule", f"{regime.name} in force", regime.citation, "confirmed")


def _row_events(data: RuleData):
    for row in data.memberships:
        for code in row.countries:
            yield from _spans(row, code, "country group", f"{code} joins {row.group}", f"{code} leaves {row.group}")
    for row in data.aliases:
        yield Event(None, row.code, "alias", f"{row.code} treated as {row.country}", row.source, row.confidence)
    for row in data.embargoes:
        verb = "widened" if row.kind == "expansion" else "in force"
        yield from _spans(row, row.country, "embargo", f"{row.title} ({row.section}) {verb}",
                          f"{row.title} ({row.section}) ends")
    for row in data.notices:
        yield from _spans(row, None, "is-informed notice", f"{row.title}: {', '.join(row.items)} to "
                          f"{', '.join(row.destinations)}", f"{row.title}: no longer applied")
    for row in data.guidance:
        yield Event(row.start, None, "guidance", f"{row.title}: {row.text}", row.source, row.confidence)


def _other_events():
    """Dated facts kept beside the rule data: 4A090 and the .z paragraphs, the FDP paragraphs, the
    Entity List footnotes and the Affiliates rule (whose state after its suspension is not on record)."""
    systems = default_systems()
    for p in systems.paragraphs:
        yield Event(p.effective, None, "system paragraph", f"{p.eccn} in force: {p.text}", p.source, p.confidence)
    by_day: dict[date, list] = {}
    for z in systems.z_paragraphs:
        by_day.setdefault(z.effective, []).append(z)
    for day, rows in by_day.items():
        yield Event(day, None, "system paragraph",
                    f"the .z paragraphs carry the 3A090/4A090 parameters into {', '.join(z.eccn for z in rows)}",
                    "; ".join(dict.fromkeys(z.source for z in rows)), _weakest(z.confidence for z in rows))
    for path in default_origins().fdp_paths:
        yield Event(path.effective, None, "foreign direct product", f"{path.paragraph} ({path.title}) in force",
                    path.source, path.confidence)
    parties = default_parties()
    for f in parties.footnotes.values():
        yield Event(f.effective, None, "entity list", f"Entity List footnote {f.number} ({f.title}): {f.fdp}",
                    f.source, f.confidence)
    rule = parties.affiliates_rule
    share = f"{rule.ownership_threshold:.0%}"
    yield Event(rule.effective, None, "entity list", f"Affiliates rule in force: entities owned {share} or more by "
                f"listed parties take their restrictions ({rule.citation})", rule.source, rule.confidence)
    yield Event(rule.suspended_from, None, "entity list", f"Affiliates rule suspended to "
                f"{rule.suspended_until.isoformat()} ({rule.suspension_citation})", rule.source, rule.confidence)
    yield Event(rule.suspended_until + timedelta(days=1), None, "entity list",
                f"Affiliates rule: state after the suspension {rule.after_suspension}", rule.source, "unconfirmed")


def _weakest(confidences) -> str:
    return max(confidences, key=(CONFIRMED, SECONDARY, UNCONFIRMED).index)


def _spans(row: Membership | Embargo | Notice, country: str | None, kind: str, starts: str, ends: str):
    note = f" ({row.note})" if row.note else ""
    yield Event(row.start, country, kind, starts + note, row.source, row.confidence)
    if row.end is not None:
        yield Event(row.end, country, kind, ends, row.source, row.confidence)


# ---------------------------------------------------------------------- docs/rules.md


def render_markdown(data: RuleData | None = None) -> str:
    """docs/rules.md: generated from the data files, so it cannot drift from what the engine applies."""
    data = data or default_rule_data()
    parties = default_parties()
    rule = parties.affiliates_rule
    lines = [
        "# Rules and dated facts the engine applies",
        "",
        "Generated by `python manage.py rules doc --write` from `compliance/core/regimes.py` and",
        "`compliance/core/data/*.yaml`; do not edit by hand (a test fails when this file is not current).",
        "Confidence: **confirmed** = Federal Register / eCFR text; **secondary** = law-firm alerts, CSET or a",
        "machine parse of the eCFR (used, and shown with the answer); **unconfirmed** = an answer that would",
        "differ without the row says so.",
        "",
        "## Rule versions",
        "",
        "| effective | rule | citation |",
        "|---|---|---|",
        *(f"| {r.effective.isoformat()} | {r.name} | {r.citation} |" for r in REGIMES),
        "",
        "## Country groups",
        "",
        "| group | countries | from | until | confidence | source | note |",
        "|---|---|---|---|---|---|---|",
        *(_row(m, m.group, ", ".join(m.countries)) for m in data.memberships),
        *(_row(a, "alias", f"{a.code} → {a.country}") for a in data.aliases),
        "",
        "## Part 746 embargoes",
        "",
        "| country | section | what | scope | policy | from | until | confidence | source |",
        "|---|---|---|---|---|---|---|---|---|",
        *(f"| {e.country} | {e.section} | {_cell(e.title)} | {e.scope} | {e.policy} | {_day(e.start)} | "
          f"{_day(e.end)} | {e.confidence} | {_cell(e.source)} |" for e in data.embargoes),
        "",
        "## Is-informed notices",
        "",
        "| from | until | notice | items | destinations | confidence | source |",
        "|---|---|---|---|---|---|---|",
        *(f"| {_day(n.start)} | {_day(n.end)} | {_cell(n.title)} | {', '.join(n.items)} | "
          f"{', '.join(n.destinations)}{' minus ' + ', '.join(n.exempt_groups) if n.exempt_groups else ''} | "
          f"{n.confidence} | {_cell(n.source)} |" for n in data.notices),
        "",
        "## Guidance",
        "",
        "| date | guidance | confidence | source |",
        "|---|---|---|---|",
        *(f"| {_day(g.start)} | {_cell(g.title + ': ' + g.text)} | {g.confidence} | {_cell(g.source)} |"
          for g in data.guidance),
        "",
        "## Entity List terms on record and the Affiliates rule",
        "",
        "A confirmed screening hit uses the entry's own columns as the imported list publishes them; these rows add",
        "the footnotes and stand in where the list omits the columns.",
        "",
        "| entry | country | licence requirement | review policy | footnotes | confidence | source |",
        "|---|---|---|---|---|---|---|",
        *(f"| {_cell(e.names[0])} | {e.country or '—'} | {_cell(e.license_requirement)} | {e.review_policy} | "
          f"{', '.join(str(n) for n in e.footnotes) or '—'} | {e.confidence} | {_cell(e.source)} |"
          for e in parties.entries),
        "",
        "| footnote | FDP paragraph | from | confidence | source |",
        "|---|---|---|---|---|",
        *(f"| {f.number} ({_cell(f.title)}) | {f.fdp} | {_day(f.effective)} | {f.confidence} | {_cell(f.source)} |"
          for f in parties.footnotes.values()),
        "",
        f"Affiliates rule ({_cell(rule.citation)}): entities owned {rule.ownership_threshold:.0%} or more by listed "
        f"parties; in force from {_day(rule.effective)}, suspended {_day(rule.suspended_from)} to "
        f"{_day(rule.suspended_until)} ({_cell(rule.suspension_citation)}); after that: {_cell(rule.after_suspension)} "
        f"({rule.confidence}: {_cell(rule.source)}).",
        "",
        "## Timeline",
        "",
        "| date | country | kind | what | confidence |",
        "|---|---|---|---|---|",
        *(f"| {_day(e.date)} | {e.country or 'all'} | {e.kind} | {_cell(e.summary)} | {e.confidence} |"
          for e in timeline(data=data)),
        "",
    ]
    return "\n".join(lines)


def _row(row: Membership | Alias, group: str, countries: str) -> str:
    return (f"| {group} | {countries} | {_day(row.start)} | {_day(row.end)} | {row.confidence} | "
            f"{_cell(row.source)} | {_cell(row.note or '')} |")


def _day(value: date | None) -> str:
    return value.isoformat() if value else "—"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


__all__ = ["Event", "render_markdown", "timeline"]
