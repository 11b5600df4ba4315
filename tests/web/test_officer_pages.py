"""The officer pages added for the first hour: names in filters, clickable charts, host/GPU pages, search,
licence entry, bulk triage, score history, the catalog.  Every page scoped like the API."""
import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.fleet import fleet_grow


@pytest.fixture
def as_role(client, users):
    def login(role):
        client.force_login(users[role])
        return client
    return login


def _rows(html: str, table_id: str) -> int:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return len(re.findall(r"<tr[ >]", body.split("<tbody>", 1)[1])) - body.count('class="empty"')


def test_cluster_filter_by_operator_name_not_id(as_role, family_a, family_b):
    client = as_role("officer")
    html = client.get("/clusters/", {"operator": "beta comp"}).content.decode()
    assert family_b.clusters[0].name in html and family_a.clusters[0].name not in html
    assert "Enter a whole number" not in html
    assert 'list="lookup-organizations"' in html and 'data-lookup="organizations"' in html


def test_an_unreadable_filter_shows_its_error_over_an_empty_list(as_role, family_a, family_b):
    html = as_role("officer").get("/clusters/", {"operator": "9" * 30}).content.decode()
    assert "id out of range" in html and "no clusters" in html
    assert family_a.clusters[0].name not in html.split("<table", 1)[1]


def test_lookups_offer_names_from_the_viewers_scope_only(as_role, family_a, family_b):
    client = as_role("auditor_b")
    names = client.get("/lookup/organizations/", {"q": "holdings"}).json()["results"]
    assert names and all(name.startswith("Beta Holdings") for name in names)
    assert client.get("/lookup/clusters/", {"q": ""}).json()["results"] == [family_b.clusters[0].name]
    assert client.get("/lookup/nonsense/").status_code == 404
    officers = as_role("officer_a").get("/lookup/officers/", {"q": "off"}).json()["results"]
    assert "officer_a" in officers


def test_dashboard_bars_open_the_filtered_list(as_role, family_a, family_b):
    client = as_role("officer")
    html = client.get("/dashboard/").content.decode()
    links = dict((label, href.replace("&amp;", "&")) for href, label in
                 re.findall(r'<a href="([^"]+)" class="bar-link" data-label="([^"]+)"', html))
    assert links["h100-sxm5-80gb"].startswith("/gpus/?model=h100-sxm5-80gb")
    assert links["CN"] == "/clusters/?country=CN"
    assert parse_qs(urlparse(links["high"]).query) == {"severity": ["high"], "status": ["open", "acknowledged"]}
    gpus = client.get(links["h100-sxm5-80gb"]).content.decode()
    assert _rows(gpus, "gpu-table") == len(family_a.gpus) + len(family_b.gpus)
    china = client.get(links["CN"]).content.decode()
    assert family_b.clusters[0].name in china and family_a.clusters[0].name not in china
    high = client.get(links["high"]).content.decode()
    assert family_a.findings[0].title in high
    family = client.get(links["Alpha Holdings"]).content.decode()
    assert family_a.clusters[0].name in family and family_b.clusters[0].name not in family


def test_host_page_shows_agent_key_identity_history_and_location(as_role, family_a):
    from inventory.models import Agent

    host = family_a.hosts[0]
    Agent.objects.filter(host=host).update(revoked_at="2026-01-02T00:00:00Z")
    html = as_role("auditor_a").get(f"/hosts/{host.pk}/").content.decode()
    assert "revoked 2026-01-02" in html
    assert f"/observations/{family_a.observations[0].pk}/" in html and 'id="identity-history"' in html
    assert f"/location/hosts/{host.pk}/" in html
    assert all(f"/gpus/{gpu.pk}/" in html for gpu in family_a.gpus)


def test_gpu_page_shows_classification_and_where_it_was_seen(as_role, family_a):
    gpu = family_a.gpus[0]
    html = as_role("auditor_a").get(f"/gpus/{gpu.pk}/").content.decode()
    assert gpu.uuid in html and "3A090.a" in html and "test rule" in html
    assert f"/hosts/{family_a.hosts[0].pk}/" in html and "/catalog/#chip-h100-sxm5-80gb" in html


def test_other_tenants_hosts_and_gpus_are_404(as_role, family_a, family_b):
    client = as_role("auditor_b")
    assert client.get(f"/hosts/{family_a.hosts[0].pk}/").status_code == 404
    assert client.get(f"/gpus/{family_a.gpus[0].pk}/").status_code == 404
    assert family_a.hosts[0].hostname not in client.get("/hosts/").content.decode()


@pytest.mark.parametrize("query, target", [
    (lambda f: f.gpus[0].uuid, lambda f: f"/gpus/{f.gpus[0].pk}/"),
    (lambda f: f.gpus[1].serial, lambda f: f"/gpus/{f.gpus[1].pk}/"),
    (lambda f: f.hosts[0].hostname, lambda f: f"/hosts/{f.hosts[0].pk}/"),
    (lambda f: f.clusters[0].name, lambda f: f"/clusters/{f.clusters[0].pk}/"),
])
def test_search_opens_the_one_thing_it_names(as_role, family_a, query, target):
    response = as_role("officer").get("/search/", {"q": query(family_a)})
    assert response.status_code == 302 and response["Location"] == target(family_a)


def test_search_lists_several_and_stays_in_scope(as_role, family_a, family_b):
    from inventory.models import License

    License.objects.create(number="EAR-2026-0042", holder=family_a.child, destination_country="SG",
                           eccns=["3A090.a"], valid_from=date(2026, 1, 1))
    client = as_role("auditor_a")
    html = client.get("/search/", {"q": "holdings"}).content.decode()
    assert "Alpha Holdings" in html and "Beta Holdings" not in html
    assert client.get("/search/", {"q": "EAR-2026-0042"})["Location"].endswith(
        f"/organizations/{family_a.child.pk}/#licences")
    assert "Nothing in your organizations matches" in as_role("auditor_b").get(
        "/search/", {"q": family_a.gpus[0].uuid}).content.decode()
    assert 'id="global-search"' in client.get("/dashboard/").content.decode()


def test_organization_page_shows_its_licences_and_findings(as_role, family_a):
    from inventory.models import License

    License.objects.create(number="EAR-77", holder=family_a.child, destination_country="SG", eccns=["3A090.a"],
                           valid_from=date(2026, 1, 1), quantity=16)
    html = as_role("officer").get(f"/organizations/{family_a.child.pk}/").content.decode()
    assert 'id="licences"' in html and "EAR-77" in html and "3A090.a" in html
    assert 'id="findings"' in html and family_a.findings[0].title in html


def _licence_post(family, **overrides):
    data = {"number": "EAR-2026-1", "holder": family.child.pk, "destination_country": "SG",
            "eccns": ["3A090.a", "4A090.a"], "sites": [family.site.pk], "quantity": "64",
            "valid_from": "2026-01-01", "valid_until": ""}
    data.update(overrides)
    return data


def test_an_officer_enters_a_licence_with_chosen_eccns_audited(as_role, users, family_a):
    from compliance.audit.models import AuditEvent
    from inventory.models import License

    client = as_role("officer_a")
    form = client.get("/licences/new/", {"cluster": family_a.clusters[0].pk}).content.decode()
    assert 'type="checkbox" name="eccns" value="3A090.a"' in form and "JSON" not in form
    assert f'<option value="{family_a.child.pk}" selected>' in form
    response = client.post(f"/licences/new/?cluster={family_a.clusters[0].pk}", _licence_post(family_a))
    assert response.status_code == 302 and response["Location"].endswith(f"/clusters/{family_a.clusters[0].pk}/#license")
    licence = License.objects.get(number="EAR-2026-1")
    assert licence.eccns == ["3A090.a", "4A090.a"] and list(licence.sites.all()) == [family_a.site]
    event = AuditEvent.objects.filter(model="inventory.license", object_id=str(licence.pk)).first()
    assert event is not None and event.user_name == "officer_a"


def test_licence_entry_refuses_bad_input_and_writes_nothing(as_role, family_a, family_b):
    from inventory.models import License

    client = as_role("officer_a")
    cases = [_licence_post(family_a, valid_until="2025-01-01"), _licence_post(family_a, eccns=["9Z999"]),
             _licence_post(family_a, destination_country="CN"), _licence_post(family_a, holder=family_b.child.pk)]
    for data in cases:
        response = client.post("/licences/new/", data)
        assert response.status_code == 200 and 'class="errorlist' in response.content.decode(), data
    assert not License.objects.exists()


def test_auditors_cannot_enter_licences(as_role, family_a):
    client = as_role("auditor_a")
    assert client.get("/licences/new/").status_code == 403
    assert client.post("/licences/new/", _licence_post(family_a)).status_code == 403


def test_bulk_triage_moves_every_selected_finding_with_one_note(as_role, users, family_a):
    from compliance.models import Finding

    fleet_grow(family_a, clusters=2)
    client = as_role("officer_a")
    page = client.get("/findings/").content.decode()
    assert 'id="bulk-triage"' in page and 'name="findings"' in page
    ids = [f.pk for f in family_a.findings]
    response = client.post("/findings/", {"findings": ids, "to_status": "acknowledged", "note": "batch: asked ops",
                                          "assignee": users["officer_a"].pk})
    assert response.status_code == 302
    for finding in Finding.objects.filter(pk__in=ids):
        assert finding.status == "acknowledged" and finding.assignee == users["officer_a"]
        assert finding.events.last().note == "batch: asked ops"


def test_bulk_triage_is_all_or_nothing(as_role, users, family_a):
    from compliance.findings import finding_triage
    from compliance.models import Finding

    fleet_grow(family_a, clusters=1)
    first, second = family_a.findings
    finding_triage(finding=first, actor=users["officer_a"], to_status="resolved", note="done",
                   assignee=users["officer_a"])
    response = as_role("officer_a").post("/findings/", {"findings": [first.pk, second.pk], "to_status": "acknowledged",
                                                        "note": "n", "assignee": users["officer_a"].pk})
    assert response.status_code == 200 and "nothing was changed" in response.content.decode()
    assert Finding.objects.get(pk=second.pk).status == "open"


def test_bulk_triage_refuses_auditors_and_foreign_findings(as_role, users, family_a, family_b):
    assert as_role("auditor_a").post("/findings/", {"findings": [family_a.findings[0].pk], "to_status": "resolved",
                                                    "note": "x", "assignee": users["officer"].pk}).status_code == 403
    response = as_role("officer_a").post("/findings/", {"findings": [family_b.findings[0].pk],
                                                        "to_status": "acknowledged", "note": "x",
                                                        "assignee": users["officer_a"].pk})
    assert response.status_code == 200
    from compliance.models import Finding

    assert Finding.objects.get(pk=family_b.findings[0].pk).status == "open"


def test_finding_figures_are_a_table_with_the_json_behind_a_toggle(as_role, family_a):
    from compliance.models import Finding

    finding = family_a.findings[0]
    Finding.objects.filter(pk=finding.pk).update(evidence={
        "observation_ids": [family_a.observations[0].pk],
        "figures": {"gpus_by_model": {"h20": 8}, "eccn": "3A090.a", "license_required": True,
                    "review_policy": "presumption of denial", "reasons": ["is-informed notice", "D:5 destination"]}})
    html = as_role("officer").get(f"/findings/{finding.pk}/").content.decode()
    figures = html.split('id="figures"', 1)[1].split("</div>", 1)[0]
    for text in ("gpus by model", "h20", "3A090.a", "license required</th>", "yes", "presumption of denial",
                 "is-informed notice; D:5 destination"):
        assert text in figures, text
    assert "<details><summary>Figures as JSON</summary>" in html


def test_score_history_page_and_api(as_role, users, family_a):
    from compliance.models import ClusterScore

    cluster = family_a.clusters[0]
    base = family_a.scores[0]
    for days, risk in ((3, 90), (2, 70)):
        ClusterScore.objects.create(cluster=cluster, as_of=date.today() - timedelta(days=days), rule="r",
                                    gpu_count=2, controlled_gpu_count=2, aggregate_tpp=1.0, h100_equivalents=2.0,
                                    risk_score=risk, figures={}, content_sha256="d" * 64, computed_at=base.computed_at)
    client = as_role("auditor_a")
    html = client.get(f"/clusters/{cluster.pk}/scores/").content.decode()
    assert _rows(html, "score-history") == 3 and 'data-chart="timeline"' in html
    assert f"/clusters/{cluster.pk}/scores/" in client.get(f"/clusters/{cluster.pk}/").content.decode()
    api = client.get(f"/api/v1/clusters/{cluster.pk}/scores").json()
    assert [row["risk_score"] for row in api["results"]] == [40, 70, 90] and api["count"] == 3
    assert as_role("auditor_b").get(f"/api/v1/clusters/{cluster.pk}/scores").status_code == 404


def test_catalog_page_lists_chips_with_figures_and_sources(as_role, family_a):
    from compliance.core.catalog import default_catalog

    html = as_role("auditor_a").get("/catalog/").content.decode()
    catalog = default_catalog()
    assert _rows(html, "catalog-table") == len(catalog)
    h100 = html.split('id="chip-h100-sxm"', 1)[1].split("</tr>", 1)[0]
    assert "3A090.a" in h100 and "<code>" in h100
    assert any(source in h100 for source in catalog.sources)


@pytest.mark.parametrize("url", ["/hosts/", "/gpus/", "/findings/", "/clusters/", "/locations/",
                                 "/search/?q=alpha", "/organizations/"])
def test_new_lists_do_not_grow_queries_with_rows(as_role, family_a, url):
    client = as_role("officer")
    fleet_grow(family_a, clusters=2)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    fleet_grow(family_a, clusters=12)
    with CaptureQueriesContext(connection) as large:
        assert client.get(url).status_code == 200
    assert len(large) == len(small), url


@pytest.mark.parametrize("url", ["/hosts/{host}/", "/gpus/{gpu}/", "/organizations/{org}/"])
def test_detail_pages_do_not_grow_queries_with_rows(as_role, family_a, url):
    client = as_role("officer")
    path = url.format(host=family_a.hosts[0].pk, gpu=family_a.gpus[0].pk, org=family_a.child.pk)
    client.get(path)
    with CaptureQueriesContext(connection) as small:
        client.get(path)
    fleet_grow(family_a, clusters=8)
    with CaptureQueriesContext(connection) as large:
        client.get(path)
    assert len(large) == len(small), path


def test_location_pages_share_the_officer_layout_and_navigation(as_role, family_a):
    client = as_role("officer_a")
    html = client.get(f"/location/hosts/{family_a.hosts[0].pk}/").content.decode()
    assert '<header class="top">' in html and 'href="/locations/"' in html and "/static/web/app.css" in html
    assert "officer" in html.split('class="who"', 1)[1]  # the roles reach base.html on another app's page
    listing = client.get("/locations/").content.decode()
    assert 'id="location-table"' in listing and "no host has been measured yet" in listing
