"""The officer upload page for bulk declarations, through the Django test client: check first (the dry run's
preview, progress), then commit; officers and admins only, within their family, each job its uploader's."""
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from compliance.audit.models import AuditEvent
from inventory.declaration_sheets import SHEETS, sheets_write
from inventory.models import License, Site

pytestmark = pytest.mark.django_db


def own_rows(family):
    return {"sites": [[family.child.name, "NEW-DC", family.site.country, "", None, None]],
            "licences": [["L-PAGE-1", family.child.name, family.site.country, "3A090.a; 4A090.a", 64, "2025-01-01", "",
                          f"{family.child.name} / NEW-DC"]]}


def upload(client, sheets, fmt="csv", name=None):
    data = sheets_write(sheets=sheets, fmt=fmt)
    response = client.post("/declarations/import/", {"file": SimpleUploadedFile(name or f"decl.{fmt}", data)})
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def test_officer_checks_then_commits_a_file(client, users, family_a):
    client.force_login(users["officer_a"])
    assert "Import declarations" in client.get("/dashboard/").content.decode()
    job_url = upload(client, own_rows(family_a))
    page = client.get(job_url).content.decode()
    assert 'id="declarations-check"' in page and 'id="declarations-commit"' not in page
    response = client.post(job_url + "run/", {"phase": "check"})
    assert response.status_code == 302
    page = client.get(job_url).content.decode()
    assert "Dry run: nothing is written" in page and 'id="declarations-commit"' in page
    assert "L-PAGE-1" in page and "NEW-DC" in page and not Site.objects.filter(name="NEW-DC").exists()
    assert '<script>alert("x")' not in page and "Alpha &lt;script&gt;" in page  # the organization's name, escaped
    assert client.get(job_url + "progress/").json() == {"phase": "check", "state": "done", "problem": "",
                                                        "done": 2, "total": 2}
    events = AuditEvent.objects.count()
    client.post(job_url + "run/", {"phase": "commit"})
    page = client.get(job_url).content.decode()
    assert 'id="declarations-committed"' in page
    licence = License.objects.get(number="L-PAGE-1")
    assert [s.name for s in licence.sites.all()] == ["NEW-DC"]
    written = AuditEvent.objects.filter(seq__gt=events)
    assert set(written.values_list("user_name", flat=True)) == {"officer_a"}
    assert {"inventory.site", "inventory.license"} <= set(written.values_list("model", flat=True))


def test_progress_answers_json_to_the_page_script(client, users, family_a):
    client.force_login(users["officer_a"])
    job_url = upload(client, own_rows(family_a), fmt="xlsx")
    assert client.get(job_url + "progress/").json()["state"] == "uploaded"
    answer = client.post(job_url + "run/", {"phase": "check"}, HTTP_ACCEPT="application/json")
    assert answer.status_code == 202  # embedded mode: the check ran inside this request
    assert client.get(job_url + "progress/").json()["done"] == 2


def test_rows_of_another_family_are_refused_and_cannot_be_committed(client, users, family_a, family_b):
    client.force_login(users["officer_a"])
    sheets = own_rows(family_a)
    sheets["sites"].append([family_b.child.name, "B-NEW", "CN", "", None, None])
    job_url = upload(client, sheets)
    client.post(job_url + "run/", {"phase": "check"})
    page = client.get(job_url).content.decode()
    errors = page.split('id="declarations-errors"', 1)[1].split("</table>", 1)[0]
    assert re.search(r"<td>sites</td><td class=\"num\">3</td><td>organization</td>\s*<td>unknown organization", errors)
    assert 'id="declarations-commit"' not in page and "nothing was written" in page
    assert client.post(job_url + "run/", {"phase": "commit"}, HTTP_ACCEPT="application/json").status_code == 409
    assert not Site.objects.filter(name__in=["NEW-DC", "B-NEW"]).exists()


def test_only_officers_and_admins_import_and_a_job_is_its_uploaders(client, users, family_a):
    assert client.get("/declarations/import/").status_code == 302  # to the login page
    client.force_login(users["auditor_a"])
    assert client.get("/declarations/import/").status_code == 403
    client.force_login(users["officer_a"])
    job_url = upload(client, own_rows(family_a))
    for role in ("officer", "admin"):
        client.force_login(users[role])
        assert client.get("/declarations/import/").status_code == 200
        assert client.get(job_url).status_code == 404
        assert client.post(job_url + "run/", {"phase": "check"}).status_code == 404


def test_a_file_that_is_not_a_declarations_file_fails_whole(client, users):
    client.force_login(users["officer_a"])
    response = client.post("/declarations/import/", {"file": SimpleUploadedFile("notes.txt", b"hello")})
    assert "choose the format" in response.content.decode()
    response = client.post("/declarations/import/", {"file": SimpleUploadedFile("notes.csv", b"a,b\n1,2\n")})
    job_url = response["Location"]
    client.post(job_url + "run/", {"phase": "check"})
    assert "needs a &#x27;sheet&#x27; column" in client.get(job_url).content.decode()


def test_template_and_scoped_export_downloads(client, users, family_a, family_b):
    client.force_login(users["auditor_a"])  # reading: any role
    blank = client.get("/declarations/template.xlsx")
    assert blank["Content-Disposition"] == 'attachment; filename="declarations-template.xlsx"'
    book = load_workbook(io.BytesIO(blank.content))
    assert book.sheetnames == [*SHEETS, "README"]
    assert [c.value for c in book["licences"][1]] == list(SHEETS["licences"])
    export = client.get("/declarations/export.csv").content.decode("utf-8-sig")
    assert family_a.site.name in export and family_b.site.name not in export and family_b.root.name not in export
    assert client.get("/declarations/export.pdf").status_code == 404
