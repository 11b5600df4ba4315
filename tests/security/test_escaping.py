"""HTML in organization names and aliases is shown as text wherever it is shown: every admin
changelist and change page, the officer UI (tests/web covers its pages), and the API in both its
JSON and its browsable-HTML rendering.  Family A's child is named
`Alpha <script>alert("x")</script> Cloud` with the alias `<img src=x onerror=alert(1)>`."""
import pytest
from django.contrib import admin

from tests.api.fleet import EVIL_ALIAS, EVIL_NAME

pytestmark = pytest.mark.django_db
API_LISTS = ("organizations", "sites", "clusters", "hosts", "gpus", "observations", "classifications", "scores",
             "findings")


def assert_shown_as_text(html: str, where: str) -> None:
    assert EVIL_NAME not in html and EVIL_ALIAS not in html, where
    assert "<script>alert" not in html and "<img src=x" not in html, where


@pytest.fixture
def superuser_client(client, users):
    admin_user = users["admin"]
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    return client


def test_every_admin_changelist_and_change_page(superuser_client, family_a):
    shown = 0
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        urls = [base, f"{base}?q=script"] if model_admin.search_fields else [base]
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            urls.append(f"{base}{first.pk}/change/")
        for url in urls:
            response = superuser_client.get(url)
            assert response.status_code in (200, 403), (url, response.status_code)
            html = response.content.decode()
            assert_shown_as_text(html, url)
            shown += "&lt;script&gt;alert" in html
    organization = f"/admin/inventory/organization/{family_a.child.pk}/change/"
    assert "&lt;img src=x onerror=alert(1)&gt;" in superuser_client.get(organization).content.decode()
    assert shown >= 3, "the evil name should appear (escaped) on several admin pages"


def test_admin_delete_confirmation_lists_related_objects_escaped(superuser_client, family_a):
    html = superuser_client.get(f"/admin/inventory/organization/{family_a.child.pk}/delete/").content.decode()
    assert_shown_as_text(html, "delete confirmation")
    assert "&lt;script&gt;alert" in html


@pytest.mark.parametrize("endpoint", API_LISTS)
def test_api_json_is_json_and_browsable_html_is_escaped(superuser_client, family_a, endpoint):
    url = f"/api/v1/{endpoint}"
    as_json = superuser_client.get(url, HTTP_ACCEPT="application/json")
    assert as_json.status_code == 200
    assert as_json["Content-Type"].startswith("application/json") and as_json["X-Content-Type-Options"] == "nosniff"
    as_html = superuser_client.get(url, HTTP_ACCEPT="text/html")
    assert as_html.status_code == 200 and as_html["Content-Type"].startswith("text/html")
    assert_shown_as_text(as_html.content.decode(), url)


def test_the_evil_name_really_is_in_the_api_data(superuser_client, family_a):
    """Guards the test above: the organizations endpoint does return the name (as JSON text)."""
    names = [o["name"] for o in superuser_client.get("/api/v1/organizations?limit=1000").json()["results"]]
    assert EVIL_NAME in names
    html = superuser_client.get("/api/v1/organizations", HTTP_ACCEPT="text/html").content.decode()
    assert "&lt;script&gt;alert(" in html
