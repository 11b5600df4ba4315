"""Screening organizations: hits become findings; newer lists and edits move them."""
import pytest

from compliance.models import Finding
from compliance.screening import services
from compliance.screening.models import ScreeningHit


def test_a_hit_is_a_finding_with_evidence_citation_and_severity(import_list, make_org, screen):
    screening_list = import_list()
    org = make_org("Huawei Technologies Company Limited", cities=["Shenzhen"])
    [hit] = screen(org)
    finding = hit.finding
    assert hit.entry.name == "Huawei Technologies Co., Ltd." and hit.status == ScreeningHit.Status.OPEN
    assert finding.kind == "denied_party_match" and finding.organization == org
    assert (finding.subject_type, finding.subject_id) == ("organization", org.pk)
    assert finding.severity == Finding.Severity.CRITICAL
    assert finding.citation == "15 CFR 744.11 (Entity List, Supp. No. 4 to part 744)"
    assert finding.dedup_key == f"denied_party_match:organization:{org.pk}:{hit.entry_key}"
    figures = finding.evidence["figures"]
    assert figures["list_version"] == screening_list.version and figures["entry_key"] == hit.entry_key
    assert figures["explanation"]["name"]["matched_tokens"] and figures["explanation"]["city"]["result"] == "match"


def test_weaker_scores_and_other_lists_are_less_severe(import_list, make_org, screen):
    import_list()
    [entity_list_hit] = screen(make_org("Huawey Technologies"))  # a misspelling scores below STRONG_MATCH
    [sdn_hit] = screen(make_org("Rosoboronexport JSC", country="RU"))
    assert entity_list_hit.score < services.STRONG_MATCH
    assert entity_list_hit.finding.severity == Finding.Severity.HIGH
    assert sdn_hit.finding.citation.startswith("31 CFR chapter V")


def test_screening_again_refreshes_the_same_finding(import_list, make_org, screen):
    import_list()
    org = make_org("Sugon Information Industry Co., Ltd.")
    first, = screen(org)
    again, = screen(org)
    assert again.pk == first.pk and again.finding_id == first.finding_id
    assert Finding.objects.get(pk=first.finding_id).occurrences == 2


def test_no_hit_below_the_threshold_and_the_threshold_is_a_setting(import_list, make_org, screen, settings):
    import_list()
    near_miss = make_org("Inspire Ltd", country="GB")
    assert screen(near_miss) == []
    settings.CHIPWATCH_SCREENING_THRESHOLD = 0.99
    assert screen(make_org("Huawey Technologies")) == []


def test_a_newer_list_rescreens_every_organization_raising_and_clearing(import_list, write_csl, csl_document,
                                                                         make_org):
    moore = make_org("Moore Threads Technology Company Limited")
    newcomer = make_org("Nettrix Information Industry Co., Ltd.")
    import_list()  # a new list re-screens every organization on commit
    moore_hit = ScreeningHit.objects.get(organization=moore)
    assert not ScreeningHit.objects.filter(organization=newcomer).exists()

    results = csl_document["results"]
    moore_row = next(r for r in results if r["name"].startswith("Moore Threads"))
    results.remove(moore_row)
    results.append(dict(moore_row, id="nettrix-synthetic-id", name="Nettrix Information Industry Co., Ltd.",
                        federal_register_notice="90 FR 14038, 3/28/25"))
    csl_document["sources_used"][0]["source_last_updated"] = "2026-06-02T13:00:00+00:00"
    import_list(write_csl(csl_document))

    moore_hit.refresh_from_db()
    assert moore_hit.status == ScreeningHit.Status.CLEARED
    assert moore_hit.finding.status == Finding.Status.RESOLVED
    assert "2026-06-02" in moore_hit.finding.events.last().note
    assert ScreeningHit.objects.get(organization=newcomer).finding.status == Finding.Status.OPEN


def test_saving_an_organization_screens_it_on_commit(import_list, django_capture_on_commit_callbacks):
    from inventory.models import Organization

    import_list()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        org = Organization.objects.create(name="Zhongke Shuguang", aliases=["中科曙光"],
                                          country_of_incorporation="CN", headquarters_country="CN")
    assert len(callbacks) == 1
    assert ScreeningHit.objects.get(organization=org).entry.name == "Sugon"


def test_screening_queries_do_not_grow_with_the_list(db, write_csl, csl_document, import_list, make_org):
    """Candidates come from the blocking index in one query: a 20x larger list costs no extra query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    org = make_org("Inspur Group Co., Ltd.", cities=["Jinan"])
    template = csl_document["results"][0]
    counts = []
    for filler in (20, 400):
        document = dict(csl_document, results=csl_document["results"] + [  # candidates (they share "inspur")
            dict(template, id=f"filler-{filler}-{i}", name=f"Inspur Filler {i:05d} Trading Company")
            for i in range(filler)])
        import_list(write_csl(document))
        services.organization_screen(organization_id=org.pk)  # first screen of this list raises/refreshes
        with CaptureQueriesContext(connection) as queries:
            [hit] = services.organization_screen(organization_id=org.pk)
        counts.append(len(queries))
    # Five reads (organization, sites, list, candidates, hits), then the refresh of the one hit and its finding.
    assert counts[0] == counts[1] <= 20, "\n".join(q["sql"][:110] for q in queries.captured_queries)
