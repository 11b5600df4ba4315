"""Adjudication: a false positive stays closed until the organization or the entry changes."""
import pytest

from compliance.models import Finding
from compliance.screening import services
from compliance.screening.models import Adjudication, ScreeningHit


@pytest.fixture
def adjudicated_hit(import_list, make_org, screen, officer):
    import_list()
    org = make_org("Dawning Company", aliases=["Dawning Co."], country="CN")
    [hit] = screen(org)
    services.screening_adjudicate(hit=hit, user=officer, verdict="false_positive",
                                  reason="Dawning Company Ltd is a Hong Kong bakery supplier, unrelated to Sugon")
    hit.refresh_from_db()
    return hit


def test_false_positive_is_recorded_with_who_and_when(adjudicated_hit, officer):
    adjudication = Adjudication.objects.get(hit=adjudicated_hit)
    assert adjudication.user == officer and adjudication.at is not None
    assert adjudication.organization_fingerprint == adjudicated_hit.organization_fingerprint
    assert adjudicated_hit.status == ScreeningHit.Status.FALSE_POSITIVE
    assert adjudicated_hit.finding.status == Finding.Status.FALSE_POSITIVE
    assert adjudicated_hit.finding.events.last().actor == officer


def test_false_positive_is_not_raised_again_while_nothing_changes(adjudicated_hit, screen):
    events_before = adjudicated_hit.finding.events.count()
    [hit] = screen(adjudicated_hit.organization)
    hit.refresh_from_db()
    assert hit.status == ScreeningHit.Status.FALSE_POSITIVE
    assert hit.finding.status == Finding.Status.FALSE_POSITIVE
    assert hit.finding.events.count() == events_before and hit.finding.occurrences == 1


def test_a_change_to_the_organizations_aliases_reopens_it(adjudicated_hit, screen):
    org = adjudicated_hit.organization
    org.aliases = ["Dawning Co.", "Dawning Information Industry"]
    org.save()
    [hit] = screen(org)
    assert hit.status == ScreeningHit.Status.OPEN
    assert hit.finding.status == Finding.Status.OPEN
    assert "changed since it was adjudicated" in hit.finding.events.filter(to_status="open").last().note


def test_a_change_to_the_list_entry_reopens_it(adjudicated_hit, screen, write_csl, csl_document, import_list):
    sugon = next(r for r in csl_document["results"] if r["name"] == "Sugon")
    sugon["addresses"].append({"address": "Hong Kong office", "city": "Hong Kong", "state": None,
                               "postal_code": None, "country": "HK"})
    import_list(write_csl(csl_document))  # the re-screen on import re-opens
    adjudicated_hit.refresh_from_db()
    assert adjudicated_hit.status == ScreeningHit.Status.OPEN
    assert adjudicated_hit.finding.status == Finding.Status.OPEN


def test_confirming_acknowledges_the_finding(import_list, make_org, screen, officer):
    import_list()
    [hit] = screen(make_org("Inspur Group"))
    services.screening_adjudicate(hit=hit, user=officer, verdict="confirmed", reason="same entity, Jinan HQ")
    hit.refresh_from_db()
    assert hit.status == ScreeningHit.Status.CONFIRMED and hit.finding.status == Finding.Status.ACKNOWLEDGED
    [again] = screen(hit.organization)
    assert again.status == ScreeningHit.Status.CONFIRMED


@pytest.mark.parametrize("verdict, reason, problem", [
    ("false_positive", "  ", "a reason is required"),
    ("maybe", "unsure", "verdict must be one of"),
])
def test_adjudication_needs_a_reason_and_a_known_verdict(adjudicated_hit, officer, verdict, reason, problem):
    with pytest.raises(services.AdjudicationError, match=problem):
        services.screening_adjudicate(hit=adjudicated_hit, user=officer, verdict=verdict, reason=reason)
