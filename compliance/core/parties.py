"""Parties: what an Entity List entry requires, and the Affiliates rule that extends it.

An Entity List entry (15 CFR 744.11, Supp. No. 4 to part 744) carries its own licence
requirement, review policy and footnotes; footnotes 1, 4 and 5 extend the EAR to
foreign-produced items through the entity-list foreign direct product rules of 15 CFR 734.9(e).
A party confirmed to be a listed entity makes the answer "licence required for all items subject
to the EAR" with that entry's review policy, whatever 3A090 says.

The Affiliates rule (90 FR 47201) extends an entry to entities owned 50 % or more by listed
parties.  It is modelled like AI Diffusion in ``regimes``: dated facts plus a switch.  Published
and effective 2025-09-29, suspended 2025-11-10 for one year; after 2026-11-09 its state is not
on record, so the answer is undetermined unless the caller says whether it applies.

An entry's own "license requirement" and "license policy" columns, as the imported screening list
publishes them, decide where present; the terms of the entries chipwatch knows, the footnotes and
the rule's dates are in ``data/parties.yaml``, each row with its source and confidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import yaml

from .catalog import normalize_name
from .destinations import (CASE_BY_CASE, POLICY_OF_DENIAL, POLICY_ORDER, PRESUMPTION_OF_APPROVAL,
                           PRESUMPTION_OF_DENIAL)

PARTIES_PATH = Path(__file__).parent / "data" / "parties.yaml"
CONFIDENCE = ("confirmed", "secondary", "unconfirmed")
ENTITY_LIST = "15 CFR 744.11 and Supp. No. 4 to part 744 (Entity List)"


class PartyDataError(ValueError):
    """The parties data file is malformed; the message names the file and the row."""


def strictest_policy(policies: Iterable[str | None]) -> str | None:
    """The review policy that governs when several requirements apply (most restrictive first)."""
    known = [policy for policy in policies if policy in POLICY_ORDER]
    return min(known, key=POLICY_ORDER.index, default=None)


@dataclass(frozen=True)
class Footnote:
    number: int
    title: str
    fdp: str
    effect: str
    effective: date
    source: str
    confidence: str


@dataclass(frozen=True)
class EntryTerms:
    """An Entity List entry's licence requirement, review policy and footnotes, as on record."""

    names: tuple[str, ...]
    country: str | None
    license_requirement: str
    review_policy: str | None
    footnotes: tuple[int, ...]
    federal_register: str | None
    source: str
    confidence: str


@dataclass(frozen=True)
class AffiliatesRule:
    citation: str
    effective: date
    ownership_threshold: float
    suspended_from: date
    suspended_until: date
    suspension_citation: str
    after_suspension: str
    red_flag: str
    source: str
    confidence: str


@dataclass(frozen=True)
class PartyData:
    default_entry: EntryTerms
    footnotes: dict[int, Footnote]
    entries: tuple[EntryTerms, ...]
    affiliates_rule: AffiliatesRule

    def terms(self, names: Iterable[str]) -> EntryTerms | None:
        """The entry on record under any of these names (case and spacing ignored)."""
        wanted = {normalize_name(name) for name in names if name}
        return next((e for e in self.entries if wanted & {normalize_name(n) for n in e.names}), None)


def _check(row: object, fields: tuple[str, ...], path: Path, where: str) -> dict:
    if not isinstance(row, dict):
        raise PartyDataError(f"{path.name}: {where}: must be a mapping")
    missing = [name for name in fields if row.get(name) in (None, "", [])]
    if missing:
        raise PartyDataError(f"{path.name}: {where}: missing {', '.join(missing)}")
    if row.get("confidence") not in CONFIDENCE:
        raise PartyDataError(f"{path.name}: {where}: confidence must be one of {', '.join(CONFIDENCE)}")
    for name in ("effective", "suspended_from", "suspended_until"):
        if name in row and not isinstance(row[name], date):
            raise PartyDataError(f"{path.name}: {where}: {name!r} must be a date (YYYY-MM-DD)")
    return row


def load_parties(path: Path | str = PARTIES_PATH) -> PartyData:
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PartyDataError(f"{path.name}: unreadable: {exc}") from None
    if not isinstance(document, dict):
        raise PartyDataError(f"{path.name}: must be a mapping")
    default = _check(document.get("default_entry"), ("license_requirement", "source", "confidence"), path,
                     "default_entry")
    footnotes = {}
    for i, row in enumerate(document.get("footnotes") or []):
        _check(row, ("number", "title", "fdp", "effect", "effective", "source", "confidence"), path, f"footnotes[{i}]")
        footnotes[row["number"]] = Footnote(**{k: row[k] for k in Footnote.__dataclass_fields__})
    entries = []
    for i, row in enumerate(document.get("entries") or []):
        _check(row, ("names", "license_requirement", "review_policy", "source", "confidence"), path, f"entries[{i}]")
        if row["review_policy"] not in POLICY_ORDER:
            raise PartyDataError(f"{path.name}: entries[{i}]: review_policy must be one of {', '.join(POLICY_ORDER)}")
        unknown = [n for n in row.get("footnotes") or [] if n not in footnotes]
        if unknown:
            raise PartyDataError(f"{path.name}: entries[{i}]: footnotes {unknown} are not defined")
        entries.append(EntryTerms(tuple(row["names"]), row.get("country"), row["license_requirement"],
                                  row["review_policy"], tuple(row.get("footnotes") or ()), row.get("federal_register"),
                                  row["source"], row["confidence"]))
    rule = _check(document.get("affiliates_rule"), tuple(AffiliatesRule.__dataclass_fields__), path, "affiliates_rule")
    return PartyData(
        default_entry=EntryTerms((), None, default["license_requirement"], None, (), None, default["source"],
                                 default["confidence"]),
        footnotes=footnotes, entries=tuple(entries),
        affiliates_rule=AffiliatesRule(**{k: rule[k] for k in AffiliatesRule.__dataclass_fields__}))


@cache
def default_parties() -> PartyData:
    return load_parties()


@dataclass(frozen=True)
class PartyDetermination:
    """What a party's listing requires.  ``license_required`` None: undetermined (the reasons say
    what is missing).  ``footnotes``: the entity-list FDP footnotes the entry carries."""

    license_required: bool | None
    review_policy: str | None
    reasons: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    footnotes: tuple[Footnote, ...] = ()

    def to_dict(self) -> dict:
        return {"license_required": self.license_required, "review_policy": self.review_policy,
                "reasons": list(self.reasons), "warnings": list(self.warnings),
                "footnotes": [{"number": f.number, "fdp": f.fdp, "effect": f.effect, "source": f.source,
                               "confidence": f.confidence} for f in self.footnotes]}


def listed_party_determination(*, party: str, entry_names: Iterable[str], as_of: date,
                               listed_since: date | None = None, federal_register_notice: str = "",
                               list_requirement: str = "", list_policy: str = "",
                               data: PartyData | None = None) -> PartyDetermination:
    """A party confirmed to be the Entity List entry known by ``entry_names``: licence required for
    all items subject to the EAR, under that entry's review policy.  ``list_requirement`` and
    ``list_policy`` are the entry's own columns as the imported screening list publishes them; they
    decide where present, the terms in ``parties.yaml`` (and its footnotes) fill in the rest, and
    an entry known by neither still requires a licence, its policy said to be not on record."""
    data = data or default_parties()
    names = tuple(entry_names)
    if listed_since is not None and as_of < listed_since:
        return PartyDetermination(False, None, (f"{party}: the entry {names[0]!r} was listed from "
                                                f"{listed_since.isoformat()} ({ENTITY_LIST})",))
    terms = data.terms(names)
    footnotes = tuple(data.footnotes[n] for n in (terms.footnotes if terms else ())
                      if data.footnotes[n].effective <= as_of)
    if list_requirement or list_policy:
        return _as_published(party, names[0], list_requirement, list_policy, terms, footnotes)
    if terms is None:
        notice = f"; see {federal_register_notice}" if federal_register_notice else ""
        return PartyDetermination(
            True, None,
            (f"{party} is the Entity List entry {names[0]!r}: licence required for "
             f"{data.default_entry.license_requirement} ({ENTITY_LIST})",),
            (f"the entry's own licence requirement and review policy are not on record "
             f"(unconfirmed: {data.default_entry.source}{notice})",))
    reasons = [f"{party} is the Entity List entry {names[0]!r}: licence required for {terms.license_requirement}, "
               f"{terms.review_policy} ({ENTITY_LIST}; {terms.source}; {terms.confidence})"]
    reasons.extend(_footnote_reasons(footnotes))
    warnings = () if terms.confidence == "confirmed" else (
        f"the entry's terms rest on {terms.confidence} data ({terms.source})",)
    return PartyDetermination(True, terms.review_policy, tuple(reasons), warnings, footnotes)


ALL_ITEMS = "all items subject to the ear"
_POLICY_WORDS = {"presumption of denial": PRESUMPTION_OF_DENIAL, "policy of denial": POLICY_OF_DENIAL,
                 "case-by-case": CASE_BY_CASE, "case by case": CASE_BY_CASE,
                 "presumption of approval": PRESUMPTION_OF_APPROVAL}


def published_policy(text: str) -> str | None:
    """The review policy an entry's published 'license policy' column names, or None when it names
    none or several (a policy that depends on the item's ECCN is not this engine's to choose)."""
    lowered = text.casefold()
    found = {policy for words, policy in _POLICY_WORDS.items() if words in lowered}
    return found.pop() if len(found) == 1 else None


def _as_published(party: str, name: str, requirement: str, policy_text: str, terms: EntryTerms | None,
                  footnotes: tuple[Footnote, ...]) -> PartyDetermination:
    where = f"{ENTITY_LIST}, the entry as published in the imported screening list"
    policy = published_policy(policy_text)
    reach = requirement.casefold()
    if ALL_ITEMS in reach and _exception_spares_chips(reach):
        required, lead = True, f"licence required for all items subject to the EAR (entry: {requirement!r})"
    elif requirement:
        required, lead = None, (f"undetermined: the entry requires a licence for {requirement!r}, which may not "
                                f"reach every item; whether it reaches this one depends on its ECCN")
    else:
        required, lead = True, "licence required for all items subject to the EAR (the entry's column is empty)"
    reasons = [f"{party} is the Entity List entry {name!r}: {lead}, review policy "
               f"{policy or 'undetermined'} (entry: {policy_text or 'not stated'!r}) ({where})"]
    reasons.extend(_footnote_reasons(footnotes))
    warnings = []
    if policy is None:
        warnings.append(f"the entry's license policy {policy_text!r} does not name one review policy for every item"
                        if policy_text else "the entry does not state its license policy")
    if not requirement:
        warnings.append(f"the entry's licence requirement is not stated: the Entity List's usual scope is assumed "
                        f"(unconfirmed: {ENTITY_LIST})")
    if "734.9(e)" in reach and not footnotes:
        warnings.append("the entry refers to 15 CFR 734.9(e) (the Entity List foreign direct product rules): which "
                        "footnote it carries is not on record (data/parties.yaml), so foreign-produced items may be "
                        "subject as well")
    if terms is not None and policy is not None and terms.review_policy != policy:
        warnings.append(f"data/parties.yaml records {terms.review_policy!r} for this entry; the list's {policy!r} "
                        f"decides ({terms.source})")
    return PartyDetermination(required, policy if required else None, tuple(reasons), tuple(warnings), footnotes)


def _exception_spares_chips(requirement: str) -> bool:
    """No 'except' clause, or one carving out only food and medicine (no chip is either)."""
    _, _, clause = requirement.partition("except")
    other = clause.replace("ear99", "")
    return not clause or (("food" in clause or "medicine" in clause) and not any(c.isdigit() for c in other))


def _footnote_reasons(footnotes: tuple[Footnote, ...]) -> list[str]:
    return [f"footnote {f.number} ({f.title}): {f.fdp} makes {f.effect} ({f.source}; {f.confidence})"
            for f in footnotes]


# --------------------------------------------------------------------------- the Affiliates rule

NOT_YET = "not yet published"
IN_FORCE = "in force"
SUSPENDED = "suspended"
UNKNOWN = "unknown"


def affiliates_rule_state(as_of: date, *, applies_after_suspension: bool | None = None,
                          data: PartyData | None = None) -> tuple[str, str]:
    """(state, explanation) of the Affiliates rule on ``as_of``.  After the suspension the state
    is not on record: ``applies_after_suspension`` is the switch (None: unknown)."""
    rule = (data or default_parties()).affiliates_rule
    if as_of < rule.effective:
        return NOT_YET, f"the Affiliates rule ({rule.citation}) took effect on {rule.effective.isoformat()}"
    if as_of < rule.suspended_from:
        return IN_FORCE, f"{rule.citation}, in force from {rule.effective.isoformat()}"
    if as_of <= rule.suspended_until:
        return SUSPENDED, (f"{rule.citation} suspended from {rule.suspended_from.isoformat()} to "
                           f"{rule.suspended_until.isoformat()} ({rule.suspension_citation})")
    if applies_after_suspension is None:
        return UNKNOWN, f"state of {rule.citation} after {rule.suspended_until.isoformat()}: {rule.after_suspension}"
    state = IN_FORCE if applies_after_suspension else SUSPENDED
    return state, (f"{rule.citation} taken as {'applying' if applies_after_suspension else 'not applying'} after "
                   f"{rule.suspended_until.isoformat()} by the caller's setting ({rule.after_suspension})")


def affiliate_determination(*, party: str, owner: PartyDetermination, owner_name: str,
                            ownership_share: float | None, as_of: date,
                            applies_after_suspension: bool | None = None,
                            data: PartyData | None = None) -> PartyDetermination:
    """What the Affiliates rule makes of a party owned (``ownership_share``, None = not on record)
    by a listed owner whose own determination is ``owner``."""
    rule = (data or default_parties()).affiliates_rule
    state, why = affiliates_rule_state(as_of, applies_after_suspension=applies_after_suspension, data=data)
    if state in (NOT_YET, SUSPENDED):
        return PartyDetermination(False, None, (f"{party} owned by listed {owner_name}: no requirement from the "
                                                f"Affiliates rule ({why})",))
    if state == UNKNOWN:
        return PartyDetermination(None, None, (f"undetermined: {party} is owned by listed {owner_name} and {why}",))
    threshold = rule.ownership_threshold
    if ownership_share is None:
        return PartyDetermination(None, None, (
            f"undetermined: {party} is owned by listed {owner_name} but the ownership share is not on record; "
            f"the Affiliates rule reaches {threshold:.0%} or more ({why}; {rule.red_flag})",))
    if ownership_share < threshold:
        return PartyDetermination(False, None, (f"{party}: {ownership_share:.0%} owned by listed {owner_name}, "
                                                f"below {threshold:.0%} ({why})",),
                                  (f"significant minority ownership by a listed party is a red flag ({rule.red_flag})",))
    return PartyDetermination(
        owner.license_required, owner.review_policy,
        (f"{party}: {ownership_share:.0%} owned by listed {owner_name} takes its restrictions ({why})",
         *owner.reasons), owner.warnings, owner.footnotes)
