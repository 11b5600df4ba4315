"""Writes of screening: importing a list, screening an organization, adjudicating a hit.

Keyword-only; every write runs in one transaction and side effects (re-screening)
are enqueued on commit.  Scoring itself is the pure `matching` module.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from pathlib import Path
from typing import Callable

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from compliance.findings import TRANSITIONS, FindingSpec, finding_raise, finding_triage
from compliance.models import Finding
from inventory.models import Organization

from . import csl, matching, selectors
from .models import Adjudication, ListEntry, ListEntryKey, ScreeningHit, ScreeningList

FINDING_KIND = "denied_party_match"
STRONG_MATCH = 0.95
# Severity of a hit by list: (score at or above STRONG_MATCH, below it).
SEVERITY_BY_LIST = {
    "EL": (Finding.Severity.CRITICAL, Finding.Severity.HIGH),
    "DPL": (Finding.Severity.CRITICAL, Finding.Severity.HIGH),
    "SDN": (Finding.Severity.CRITICAL, Finding.Severity.HIGH),
    "MEU": (Finding.Severity.HIGH, Finding.Severity.MEDIUM),
    "UVL": (Finding.Severity.MEDIUM, Finding.Severity.LOW),
}
DEFAULT_SEVERITY = (Finding.Severity.HIGH, Finding.Severity.MEDIUM)
CITATION_BY_LIST = {
    "EL": "15 CFR 744.11 (Entity List, Supp. No. 4 to part 744)",
    "MEU": "15 CFR 744.21 (Military End-User List, Supp. No. 7 to part 744)",
    "UVL": "15 CFR 744.15 (Unverified List, Supp. No. 6 to part 744)",
    "DPL": "15 CFR part 764 (Denied Persons List)",
    "SDN": "31 CFR chapter V (OFAC Specially Designated Nationals List)",
}
IMPORT_BATCH = 1000
KEY_ROWS_PER_STATEMENT = 1000  # 3000 parameters, within SQLite's limit


class AdjudicationError(ValueError):
    pass


@dataclass(frozen=True)
class ImportResult:
    screening_list: ScreeningList
    created: bool


def screening_threshold() -> float:
    return float(getattr(settings, "CHIPWATCH_SCREENING_THRESHOLD", matching.DEFAULT_THRESHOLD))


def entry_party(entry: ListEntry) -> matching.Party:
    return matching.make_party(key=entry, names=[entry.name, *entry.alt_names], countries=entry.countries,
                               places=[a["line"] for a in entry.addresses])


def organization_party(organization: Organization) -> tuple[matching.Party, str]:
    """The organization as screened, and the fingerprint of exactly those fields."""
    sites = list(organization.sites.all())
    names = [organization.name, *organization.aliases]
    countries = {organization.country_of_incorporation, organization.headquarters_country,
                 *(site.country for site in sites)}
    cities = [site.city for site in sites if site.city]
    party = matching.make_party(key=organization.pk, names=names, countries=countries, places=cities)
    return party, matching.fingerprint(names=names, countries=countries, places=cities)


# --- import ------------------------------------------------------------------------


def _list_entry(screening_list: ScreeningList, parsed: csl.CslEntry) -> ListEntry:
    names = [parsed.name, *parsed.alt_names]
    lines = [line for line, _ in parsed.addresses]
    return ListEntry(
        screening_list=screening_list, entry_key=f"{parsed.source_code}:{parsed.source_id}",
        source_id=parsed.source_id, source_list=parsed.source, source_code=parsed.source_code,
        entity_number=parsed.entity_number, entry_type=parsed.entry_type, name=parsed.name,
        alt_names=list(parsed.alt_names), addresses=[{"line": line, "country": c} for line, c in parsed.addresses],
        countries=list(parsed.countries), programs=list(parsed.programs),
        federal_register_notice=parsed.federal_register_notice, start_date=parsed.start_date, remarks=parsed.remarks,
        source_list_url=parsed.source_list_url, source_information_url=parsed.source_information_url,
        license_requirement=parsed.license_requirement, license_policy=parsed.license_policy,
        normalized_name=" ".join(matching.normalize_name(parsed.name).tokens)[:500],
        fingerprint=matching.fingerprint(names=names, countries=parsed.countries, places=lines),
    )


def _insert_blocking_keys(rows: list[tuple[int, int, str]]) -> None:
    """About 25 keys per screened entry, hundreds of thousands of rows for the full CSL: written with COPY on
    PostgreSQL, elsewhere 1000 rows a statement, never as model instances (those made 30k entries take 40 s)."""
    meta = ListEntryKey._meta
    table = connection.ops.quote_name(meta.db_table)
    columns = ", ".join(connection.ops.quote_name(meta.get_field(f).column) for f in ("screening_list", "entry", "key"))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        for start in range(0, len(rows), KEY_ROWS_PER_STATEMENT):
            chunk = rows[start:start + KEY_ROWS_PER_STATEMENT]
            placeholders = ", ".join(["(%s, %s, %s)"] * len(chunk))
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {placeholders}",
                           [value for row in chunk for value in row])


def screening_list_import(*, path: Path, progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Import a CSL file whole, or not at all; the same file (by SHA-256) is imported once.

    Raises csl.CslFormatError (with the row) before anything is written.  A new list
    re-screens every organization once committed.
    """
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    existing = ScreeningList.objects.filter(sha256=sha256).first()
    if existing is not None:
        return ImportResult(screening_list=existing, created=False)
    parsed = csl.parse(data, file_name=path.name)
    version = parsed.version or datetime.fromtimestamp(path.stat().st_mtime, tz=dt_timezone.utc).date().isoformat()
    total = len(parsed.entries)
    with transaction.atomic():
        screening_list = ScreeningList.objects.create(
            file_name=path.name[:255], file_format=parsed.format, version=version[:64], sha256=sha256,
            imported_at=timezone.now(), entry_count=total,
        )
        for start in range(0, total, IMPORT_BATCH):
            batch = [_list_entry(screening_list, e) for e in parsed.entries[start:start + IMPORT_BATCH]]
            ListEntry.objects.bulk_create(batch)
            _insert_blocking_keys([(screening_list.pk, entry.pk, key)
                                   for entry, source in zip(batch, parsed.entries[start:start + IMPORT_BATCH])
                                   if source.screened for key in matching.party_keys(entry_party(entry))])
            if progress:
                progress(start + len(batch), total)
        from .tasks import rescreen_all

        transaction.on_commit(rescreen_all.delay)
    return ImportResult(screening_list=screening_list, created=True)


# --- screening ---------------------------------------------------------------------


def _finding_spec(*, organization: Organization, entry: ListEntry, match: matching.Match) -> FindingSpec:
    strong, weaker = SEVERITY_BY_LIST.get(entry.source_code, DEFAULT_SEVERITY)
    screening_list = entry.screening_list
    return FindingSpec(
        kind=FINDING_KIND,
        severity=strong if match.score >= STRONG_MATCH else weaker,
        subject_type=Finding.Subject.ORGANIZATION,
        subject_id=organization.pk,
        organization_id=organization.pk,
        dedup_key=f"{FINDING_KIND}:organization:{organization.pk}:{entry.entry_key}",
        title=f"{organization.name} resembles {entry.name} ({entry.source_list}), score {match.score:.2f}",
        citation=CITATION_BY_LIST.get(entry.source_code, entry.source_list),
        figures={
            "list_entry_id": entry.pk, "entry_key": entry.entry_key, "entry_name": entry.name,
            "list_source": entry.source_list, "entity_number": entry.entity_number,
            "federal_register_notice": entry.federal_register_notice,
            "screening_list_id": screening_list.pk, "list_version": screening_list.version,
            "list_sha256": screening_list.sha256, "score": round(match.score, 4),
            "explanation": match.explanation,
        },
    )


def _finding_move(finding: Finding, *, actor, to_status: str, note: str) -> None:
    """Triage to `to_status`, re-opening first where the lifecycle allows no direct step."""
    if finding.status == to_status:
        return
    if to_status not in TRANSITIONS[finding.status]:
        finding = finding_triage(finding=finding, actor=actor, to_status=Finding.Status.OPEN, note=note)
    if finding.status != to_status:
        finding_triage(finding=finding, actor=actor, to_status=to_status, note=note)


def _hit_record(*, hit: ScreeningHit | None, organization: Organization, organization_fingerprint: str,
                match: matching.Match, now) -> ScreeningHit:
    """Create or refresh one hit; raise its finding unless an adjudication still covers it."""
    entry: ListEntry = match.candidate.key
    if hit is None:
        hit = ScreeningHit(organization=organization, entry_key=entry.entry_key, first_seen=now)
    adjudicated_false = hit.status == ScreeningHit.Status.FALSE_POSITIVE
    unchanged = (hit.organization_fingerprint, hit.entry_fingerprint) == (organization_fingerprint, entry.fingerprint)
    hit.entry, hit.score, hit.explanation, hit.last_seen = entry, match.score, match.explanation, now
    if adjudicated_false and unchanged:
        hit.save()
        return hit
    if adjudicated_false and hit.finding is not None:
        _finding_move(hit.finding, actor=None, to_status=Finding.Status.OPEN,
                      note="re-opened: the organization or the list entry changed since it was adjudicated")
    hit.organization_fingerprint, hit.entry_fingerprint = organization_fingerprint, entry.fingerprint
    if hit.status != ScreeningHit.Status.CONFIRMED:
        hit.status = ScreeningHit.Status.OPEN
    hit.finding = finding_raise(spec=_finding_spec(organization=organization, entry=entry, match=match))
    hit.save()
    return hit


def _hit_clear(hit: ScreeningHit, *, screening_list: ScreeningList) -> None:
    """A hit the current list and organization no longer produce: resolve its finding."""
    if hit.status not in (ScreeningHit.Status.OPEN, ScreeningHit.Status.CONFIRMED):
        return
    hit.status = ScreeningHit.Status.CLEARED
    hit.save(update_fields=["status"])
    if hit.finding is not None and hit.finding.status in (Finding.Status.OPEN, Finding.Status.ACKNOWLEDGED):
        finding_triage(finding=hit.finding, actor=None, to_status=Finding.Status.RESOLVED,
                       note=f"no longer matches: screened against list version {screening_list.version}")


def organization_screen(*, organization_id: int) -> list[ScreeningHit]:
    """Screen one organization against the current list; returns its hits at or above the threshold.

    Five reads whatever the list's size (organization, sites, current list, entries
    sharing a blocking key, existing hits), then writes per hit.
    """
    organization = selectors.organization_for_screening(organization_id=organization_id)
    screening_list = selectors.screening_list_current()
    if organization is None or screening_list is None:
        return []
    party, organization_fingerprint = organization_party(organization)
    candidates = selectors.screening_candidates(screening_list=screening_list, keys=matching.party_keys(party))
    candidates = candidates.select_related("screening_list")
    matches = matching.screen_candidates(party, [entry_party(e) for e in candidates], threshold=screening_threshold())
    now = timezone.now()
    with transaction.atomic():
        existing = {h.entry_key: h for h in ScreeningHit.objects.select_for_update().filter(organization=organization)}
        hits = [
            _hit_record(hit=existing.pop(m.candidate.key.entry_key, None), organization=organization,
                        organization_fingerprint=organization_fingerprint, match=m, now=now)
            for m in matches
        ]
        for stale in existing.values():
            _hit_clear(stale, screening_list=screening_list)
    return hits


# --- adjudication ------------------------------------------------------------------


def screening_adjudicate(*, hit: ScreeningHit, user, verdict: str, reason: str) -> Adjudication:
    """Record an officer's verdict on a hit and carry it to the hit's finding.

    A false positive stays closed across re-screens until the organization's screened
    fields or the list entry change (their fingerprints are kept with the verdict).
    """
    reason = (reason or "").strip()
    if not reason:
        raise AdjudicationError("a reason is required")
    if verdict not in Adjudication.Verdict.values:
        raise AdjudicationError(f"verdict must be one of {', '.join(Adjudication.Verdict.values)}")
    with transaction.atomic():
        hit = ScreeningHit.objects.select_for_update().get(pk=hit.pk)
        if hit.status == ScreeningHit.Status.CLEARED:
            raise AdjudicationError("this hit no longer matches; there is nothing to adjudicate")
        adjudication = Adjudication.objects.create(
            hit=hit, verdict=verdict, reason=reason, user=user, at=timezone.now(),
            organization_fingerprint=hit.organization_fingerprint, entry_fingerprint=hit.entry_fingerprint,
        )
        false_positive = verdict == Adjudication.Verdict.FALSE_POSITIVE
        hit.status = ScreeningHit.Status.FALSE_POSITIVE if false_positive else ScreeningHit.Status.CONFIRMED
        hit.save(update_fields=["status"])
        if hit.finding is not None:
            _finding_move(hit.finding, actor=user, note=f"screening adjudication: {reason}",
                          to_status=Finding.Status.FALSE_POSITIVE if false_positive else Finding.Status.ACKNOWLEDGED)
    return adjudication
