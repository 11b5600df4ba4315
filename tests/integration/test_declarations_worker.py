"""The declarations check on a real Celery worker: the page's progress bar reads rows the worker has processed
(through the broker's Redis, while the worker's transaction is still open), and the commit writes the rows."""
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inventory.declaration_sheets import sheets_write
from inventory.models import Site
from tests.api.fleet import _fast_password_hashing, family_a, family_b, users  # noqa: F401  (fixtures)

from .conftest import wait_for

ROWS = 400


def test_the_worker_reports_progress_while_it_checks_then_commits(client, users, family_a, celery_worker_factory):
    celery_worker_factory()
    client.force_login(users["officer_a"])
    sheets = {"sites": [[family_a.child.name, f"BULK-{i:04d}", "SG", "", None, None] for i in range(ROWS)]}
    response = client.post("/declarations/import/",
                           {"file": SimpleUploadedFile("bulk.csv", sheets_write(sheets=sheets, fmt="csv"))})
    job_url = response["Location"]
    assert client.post(job_url + "run/", {"phase": "check"}, HTTP_ACCEPT="application/json").status_code == 202
    seen = set()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        progress = client.get(job_url + "progress/").json()
        seen.add(progress["done"])
        if progress["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert progress == {"phase": "check", "state": "done", "problem": "", "done": ROWS, "total": ROWS}
    assert any(0 < done < ROWS for done in seen), seen  # the bar moved while the worker was still at it
    assert not Site.objects.filter(name__startswith="BULK-").exists()
    client.post(job_url + "run/", {"phase": "commit"})
    wait_for(lambda: client.get(job_url + "progress/").json() == {
        "phase": "commit", "state": "done", "problem": "", "done": ROWS, "total": ROWS}, timeout=240, what="the commit")
    assert Site.objects.filter(name__startswith="BULK-", organization=family_a.child).count() == ROWS
