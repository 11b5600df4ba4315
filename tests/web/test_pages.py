"""The officer UI: login, roles, scope (404 across tenants), charts, escaping, triage through forms."""
import re

import pytest

from tests.api.fleet import EVIL_ALIAS, EVIL_NAME


@pytest.fixture
def as_role(client, users):
    def login(role):
        client.force_login(users[role])
        return client
    return login


def test_pages_need_a_login(client, family_a):
    for url in ("/dashboard/", f"/clusters/{family_a.clusters[0].pk}/", "/findings/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    assert client.get("/").status_code == 302


def test_login_form_leads_to_the_dashboard(client, users):
    response = client.post("/login/", {"username": "officer", "password": "pw-officer-chipwatch"}, follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard/"
    assert b"Fleet dashboard" in response.content


def test_a_user_without_role_is_refused(as_role):
    assert as_role("no_role").get("/dashboard/").status_code == 403


def test_dashboard_draws_its_charts_as_svg(as_role, family_a, family_b):
    html = as_role("officer").get("/dashboard/").content.decode()
    for chart in ("gpus-by-model", "gpus-by-classification", "aggregate-tpp-by-country",
                  "h100-equivalents-by-organization-family", "unresolved-findings-by-severity", "timeline"):
        assert f'data-chart="{chart}"' in html, chart
    assert len(re.findall(r"<rect ", html)) >= 8
    assert "h100-sxm5-80gb" in html and "<polyline" in html


def test_dashboard_counts_only_the_viewers_families(as_role, family_a, family_b):
    html = as_role("auditor_b").get("/dashboard/").content.decode()
    assert "Beta Holdings" in html and "Alpha Holdings" not in html


def test_cluster_page_shows_topology_score_licence_and_evidence(as_role, family_a):
    cluster = family_a.clusters[0]
    html = as_role("auditor_a").get(f"/clusters/{cluster.pk}/").content.decode()
    for expected in ("NVLink topology", "4 active links", "risk <strong>40</strong>", "15 CFR 742.6",
                     "No licence on record", family_a.gpus[0].uuid, f"/observations/{family_a.observations[0].pk}/"):
        assert expected in html, expected
    assert "<i>abroad</i>" not in html and "&lt;i&gt;abroad&lt;/i&gt;" in html


def test_other_tenants_pages_are_404(as_role, family_a, family_b):
    client = as_role("auditor_b")
    for url in (f"/clusters/{family_a.clusters[0].pk}/", f"/organizations/{family_a.child.pk}/",
                f"/findings/{family_a.findings[0].pk}/", f"/observations/{family_a.observations[0].pk}/"):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/clusters/{family_b.clusters[0].pk}/").status_code == 200


def test_organization_names_and_aliases_are_escaped_everywhere(as_role, family_a):
    client = as_role("officer")
    for url in ("/dashboard/", "/organizations/", f"/organizations/{family_a.child.pk}/",
                f"/clusters/{family_a.clusters[0].pk}/", "/clusters/", f"/findings/{family_a.findings[0].pk}/"):
        html = client.get(url).content.decode()
        assert EVIL_NAME not in html and EVIL_ALIAS not in html, url
        assert "<script>alert" not in html, url
    html = client.get(f"/organizations/{family_a.child.pk}/").content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_organization_page_shows_the_family_tree_and_sites(as_role, family_a):
    html = as_role("officer").get(f"/organizations/{family_a.child.pk}/").content.decode()
    assert 'id="ultimate-parent">Alpha Holdings<' in html
    assert "Alpha Holdings sub 0" in html and "Alpha-DC1" in html
    assert 'id="screening"' in html  # the screening app is installed in this deployment


def test_observation_page_shows_the_payload_escaped(as_role, family_a):
    html = as_role("auditor_a").get(f"/observations/{family_a.observations[0].pk}/").content.decode()
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html and "<b>not bold</b>" not in html


def test_findings_list_filters(as_role, family_a, family_b):
    client = as_role("officer")
    assert family_b.findings[0].title in client.get("/findings/", {"status": "open"}).content.decode()
    html = client.get("/findings/", {"status": "resolved"}).content.decode()
    assert family_b.findings[0].title not in html and "no findings" in html


def test_triage_through_the_form_with_history(as_role, users, family_a):
    from compliance.models import Finding

    client = as_role("officer_a")
    finding = family_a.findings[0]
    url = f"/findings/{finding.pk}/"
    refused = client.post(url, {"to_status": "acknowledged", "note": "", "assignee": users["officer_a"].pk})
    assert refused.status_code == 200 and b"This field is required" in refused.content
    for step, note in (("acknowledged", "calling the operator"), ("false_positive", "lab rig, <b>declared</b>")):
        response = client.post(url, {"to_status": step, "note": note, "assignee": users["officer_a"].pk})
        assert response.status_code == 302, response.content
    finding.refresh_from_db()
    assert finding.status == Finding.Status.FALSE_POSITIVE
    html = client.get(url).content.decode()
    assert "calling the operator" in html and "lab rig, &lt;b&gt;declared&lt;/b&gt;" in html


def test_auditors_see_no_triage_form_and_cannot_post(as_role, users, family_a):
    client = as_role("auditor_a")
    url = f"/findings/{family_a.findings[0].pk}/"
    assert b'id="triage-form"' not in client.get(url).content
    response = client.post(url, {"to_status": "acknowledged", "note": "x", "assignee": users["officer"].pk})
    assert response.status_code == 403


def test_assignee_choices_are_the_officers_of_the_family(as_role, family_a):
    html = as_role("officer").get(f"/findings/{family_a.findings[0].pk}/").content.decode()
    options = set(re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', html))
    assert {"officer", "officer_a", "admin"} <= options and "auditor_a" not in options and "auditor_b" not in options


def test_django_admin_is_still_there(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="pw-root-chipwatch")
    client.force_login(admin)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.get("/admin/access/rolegrant/").status_code == 200
