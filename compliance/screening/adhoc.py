"""Ad-hoc screening: one name (and optionally a country) against the current list, nothing written.

The answer `manage.py screen` prints and `GET /api/v1/screening/match` serves, shaped
like OpenSanctions yente's /match: the best entries, best first, each with its score,
whether it reaches the threshold, and the explanation of every part of the score.
"""
from __future__ import annotations

from dataclasses import dataclass

from inventory.countries import COUNTRY_CODES

from . import matching, selectors
from .models import ScreeningList
from .services import entry_party, screening_threshold

DEFAULT_LIMIT = 5
MAX_LIMIT = 50


class AdhocScreeningError(ValueError):
    """The question cannot be answered as asked; the message names the parameter."""


class NoScreeningList(LookupError):
    pass


@dataclass(frozen=True)
class AdhocQuery:
    name: str
    country: str | None = None
    limit: int = DEFAULT_LIMIT


def adhoc_query(*, name: str | None, country: str | None = None, limit: int | None = None) -> AdhocQuery:
    """Check a query before touching the list: every refusal names the parameter and why."""
    name = (name or "").strip()
    if not name:
        raise AdhocScreeningError("name: give the name to screen")
    if not any(reading.tokens for reading in matching.name_readings(name)):
        raise AdhocScreeningError(f"name: {name!r} has no word left to compare once legal forms are dropped")
    country = (country or "").strip().upper() or None
    if country is not None and country not in COUNTRY_CODES:
        raise AdhocScreeningError(f"country: {country!r} is not an ISO 3166-1 alpha-2 code (e.g. CN, RU, SG)")
    limit = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= limit <= MAX_LIMIT:
        raise AdhocScreeningError(f"limit: must be between 1 and {MAX_LIMIT}")
    return AdhocQuery(name=name, country=country, limit=limit)


def _entry_summary(entry, screening_list: ScreeningList) -> dict:
    return {
        "entry_key": entry.entry_key, "name": entry.name, "alt_names": entry.alt_names,
        "source_list": entry.source_list, "source_code": entry.source_code, "entity_number": entry.entity_number,
        "entry_type": entry.entry_type, "countries": entry.countries, "addresses": entry.addresses,
        "programs": entry.programs, "federal_register_notice": entry.federal_register_notice,
        "start_date": entry.start_date.isoformat() if entry.start_date else None,
        "source_information_url": entry.source_information_url,
    }


def screening_match(query: AdhocQuery) -> dict:
    """Score the entries sharing a blocking key with the name; the `limit` best, matches or not.

    Raises NoScreeningList when no list was imported: "no hit" would then be a false
    all-clear, so the caller says that nothing could be screened.
    """
    screening_list = selectors.screening_list_current()
    if screening_list is None:
        raise NoScreeningList("no screening list has been imported (python manage.py import_csl FILE)")
    threshold = screening_threshold()
    party = matching.make_party(key=None, names=[query.name], countries=[query.country] if query.country else [])
    candidates = selectors.screening_candidates(screening_list=screening_list, keys=matching.party_keys(party))
    scored = sorted((matching.compare(party, entry_party(entry)) for entry in candidates),
                    key=lambda m: (-m.score, m.candidate.key.name, m.candidate.key.entry_key))
    results = [{"score": round(m.score, 4), "match": m.score >= threshold,
                "entry": _entry_summary(m.candidate.key, screening_list), "explanation": m.explanation}
               for m in scored[:query.limit]]
    return {
        "query": {"name": query.name, "country": query.country, "limit": query.limit},
        "threshold": threshold,
        "list": {"id": screening_list.pk, "source": screening_list.source, "version": screening_list.version,
                 "sha256": screening_list.sha256, "imported_at": screening_list.imported_at.isoformat(),
                 "entry_count": screening_list.entry_count},
        "candidates_compared": len(scored),
        "matches": sum(m.score >= threshold for m in scored),
        "results": results,
    }
