"""The first hour of an officer, an operator and an auditor (README.md), in Debian's Chromium, against the
service as `make run` starts it (`embedded_service`).  Every page a journey visits is checked for 404s, 5xx
and requests to another origin; each step leaves a screenshot in test-artifacts/first-hour-*.png."""
import csv
import io
import json
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from urllib.request import Request, urlopen

from chipwatch_agent import snapshot
from chipwatch_agent.nvml_fake import load_snapshot, own_identity
from openpyxl import load_workbook

from tests.e2e.conftest import REPO, login, screenshot

AGENT_CLI = Path(sys.executable).with_name("chipwatch-agent")  # the console script `pip install ./agents` makes


def checked(page, audit, name: str) -> None:
    """A journey step: nothing the page loaded so far was a 404, a 5xx or off-origin; keep a screenshot.
    (Requests after this step are judged at the next one, and when the journey ends.)"""
    page.wait_for_load_state("load")
    screenshot(page, f"first-hour-{name}")
    audit.assert_clean(name)
    if page.locator("header.top").count():  # the officer layout: its stylesheet is applied, not only served
        assert page.evaluate("getComputedStyle(document.querySelector('header.top')).display") == "flex", name


def reload_until(page, url: str, selector: str, what: str, timeout: float = 90):
    """The demo fleet reports every few seconds: reload until what it reported is on the page."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(url)
        if page.locator(selector).count():
            return
        assert time.monotonic() < deadline, f"{what} not on {url} after {timeout:.0f} s"
        page.wait_for_timeout(2000)


def api_get(service, path: str, token: str):
    with urlopen(Request(service.url + path, headers={"Authorization": f"Token {token}"}), timeout=30) as answer:
        return answer.status, dict(answer.headers), answer.read()


def test_officer_enters_a_licence_and_the_finding_closes_itself(service_page, embedded_service):
    """Dashboard chart → clusters in AE → gc-mixed (8 H200, licence required, none on record) → its
    licence_gap finding → enter the licence → the system closes the finding naming the licence."""
    page, audit = service_page
    login(page, embedded_service)
    ae_bar = 'svg[data-chart="h100-equivalents-by-country"] a.bar-link[data-label="AE"]'
    reload_until(page, f"{embedded_service.url}/dashboard/", ae_bar, "the AE bar (gc-mixed scored)")
    checked(page, audit, "officer-01-dashboard")

    page.click(ae_bar + " rect")  # the bar a user clicks
    page.wait_for_url(re.compile(r".*/clusters/\?country=AE$"))
    assert page.locator("table.list tbody tr").count() == 1
    checked(page, audit, "officer-02-clusters-in-AE")

    page.click("table.list >> text=gc-mixed")
    page.wait_for_selector("#licence-determination")
    assert "none on record" in page.inner_text("#licence-determination")
    gap = page.locator("#findings tr.finding-row", has_text="licence_gap")
    assert gap.count() == 1 and "Open" in gap.inner_text()
    checked(page, audit, "officer-03-cluster")

    gap.locator("a").click()
    page.wait_for_selector("#triage-form")
    assert page.inner_text("#finding-status") == "Open"
    reasons = page.locator("#figures table.figures-table td").all_inner_texts()
    assert any("88 FR 73458" in cell for cell in reasons), reasons  # the figures as a table a person reads,
    assert not any(cell.startswith("[") for cell in reasons), reasons  # not a Python list's repr
    finding_url = page.url
    checked(page, audit, "officer-04-finding-open")

    page.click("text=gc-mixed")
    page.click("#enter-licence")
    page.wait_for_selector("#licence-form")
    number = "D1234567-E2E"
    page.fill("input[name=number]", number)
    page.check("input[name=eccns][value='3A090.a']")
    page.fill("input[name=valid_from]", "2026-01-01")
    assert page.input_value("select[name=destination_country]") == "AE"  # proposed from the cluster
    checked(page, audit, "officer-05-licence-form")
    page.click("#licence-submit")
    page.wait_for_selector(".message")
    assert number in page.inner_text(".message")
    assert "none on record" not in page.inner_text("#licence-determination")
    checked(page, audit, "officer-06-cluster-licensed")

    page.goto(finding_url)
    assert page.inner_text("#finding-status") == "Resolved"
    closing = page.locator("#history tr.event").last.inner_text()
    assert "chipwatch" in closing and "condition no longer holds" in closing and number in closing, closing
    checked(page, audit, "officer-07-finding-closed-by-the-system")


def test_operator_enrolls_a_host_with_a_secret_from_the_ui(service_page, embedded_service, tmp_path):
    """A secret made in the officer UI (shown once) → the real agent CLI enrolls and reports once →
    the host is on its page with its GPUs.  NVML is replayed from a snapshot (the NVML boundary)."""
    page, audit = service_page
    login(page, embedded_service)
    page.click("nav >> text=Enrollment secrets")
    page.select_option("select[name=cluster]", label="rk-infer-1 (Frankfurt FRA-2)")
    page.fill("input[name=label]", "e2e operator host")
    page.fill("input[name=max_uses]", "1")
    page.click("#secret-form button[type=submit]")
    secret = page.inner_text("#plaintext").strip()
    assert len(secret) >= 20
    checked(page, audit, "operator-01-secret-shown-once")
    page.goto(f"{embedded_service.url}/access/secrets/")
    assert page.locator("#plaintext").count() == 0 and secret not in page.content()

    hostname = "op-e2e-01"
    nvml = tmp_path / "nvml-snapshot.json"
    nvml.write_bytes(snapshot.dumps(own_identity(load_snapshot("hgx-h100"), hostname)))
    uuids = [call[2]["return"] for call in json.loads(nvml.read_text())["calls"] if call[0] == "nvmlDeviceGetUUID"]
    secret_file = tmp_path / "enroll.secret"
    secret_file.write_text(secret)
    env = dict(embedded_service.env, CHIPWATCH_AGENT_HOSTNAME=hostname, CHIPWATCH_AGENT_MACHINE_ID="e2e-op-e2e-01")
    common = ["--state-dir", str(tmp_path / "state"), "--fake-nvml", str(nvml)]
    for argv in (["enroll", "--server", embedded_service.url, "--secret-file", str(secret_file), *common],
                 ["run", "--once", *common]):
        done = subprocess.run([str(AGENT_CLI), *argv], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"chipwatch-agent {argv[0]}: {done.stdout}\n{done.stderr}"
    status = subprocess.run([str(AGENT_CLI), "status", "--state-dir", str(tmp_path / "state")], env=env,
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr

    page.goto(f"{embedded_service.url}/access/secrets/")
    used = page.locator("tr", has_text="e2e operator host").inner_text()
    assert "used up" in used and "1 / 1" in used, used
    page.fill("#global-search", hostname)
    page.press("#global-search", "Enter")
    page.wait_for_selector("#gpus")
    assert page.locator("h1").inner_text() == f"Host {hostname}"
    assert "rk-infer-1" in page.inner_text("main p.meta")
    rows = page.locator("#gpus tbody tr")
    assert rows.count() == len(uuids) == 8
    assert sorted(rows.locator("code").all_inner_texts()) == sorted(uuids)
    assert "h100" in page.inner_text("#gpus")
    assert page.locator("#agents .agent-state").inner_text() == "active"
    checked(page, audit, "operator-02-host-with-its-gpus")


def _recipe(name: str) -> str:
    """A code block of docs/api.md, exactly as a third party would copy it."""
    doc = (REPO / "docs" / "api.md").read_text()
    match = re.search(rf"```python\n# recipe: {name}\n(.*?)```", doc, re.S)
    assert match, f"docs/api.md has no '# recipe: {name}' block"
    return match.group(1)


def test_auditor_gets_a_token_lists_findings_and_checks_the_audit_hash(service_page, embedded_service):
    """An officer issues a read-only token (shown once) → findings over the API → the audit report as
    JSON, CSV and XLSX → the hash recomputed with docs/api.md's recipe equals the served one, in every form."""
    page, audit = service_page
    login(page, embedded_service)
    page.click("nav >> text=API tokens")
    page.select_option("select[name=user]", label=embedded_service.username)
    page.select_option("select[name=role]", "auditor")
    page.fill("input[name=label]", "e2e audit")
    page.click("#token-form button[type=submit]")
    token = page.inner_text("#plaintext").strip()
    assert token.startswith("cwt_")
    checked(page, audit, "auditor-01-token-shown-once")

    status, _, body = api_get(embedded_service, "/api/v1/findings?severity=critical&status=open", token)
    findings = json.loads(body)
    assert status == 200 and findings["count"] >= 1
    assert {item["severity_label"] for item in findings["results"]} == {"critical"}

    reload_until(page, f"{embedded_service.url}/clusters/", "table.list >> text=lc-train-7", "lc-train-7")
    page.click("table.list >> text=lc-train-7")
    page.wait_for_selector("#audit-xlsx")
    cluster_id = int(re.search(r"/clusters/(\d+)/", page.url).group(1))
    checked(page, audit, "auditor-02-cluster-with-audit-links")
    downloads = {}
    for kind in ("csv", "xlsx"):
        with page.expect_download() as download:
            page.click(f"#audit-{kind}")
        downloads[kind] = Path(download.value.path()).read_bytes()
        assert download.value.suggested_filename.endswith(f".{kind}")
    audit.assert_clean("audit downloads")

    as_of = date.today().isoformat()
    status, headers, body = api_get(embedded_service, f"/api/v1/clusters/{cluster_id}/audit?as_of={as_of}", token)
    assert status == 200
    namespace = {"body": body}
    exec(compile(_recipe("audit-report-hash"), "docs/api.md", "exec"), namespace)  # asserts recomputed == served
    served = namespace["served"]
    assert namespace["recomputed"] == served == headers["X-Content-SHA256"]
    gpus = {item["uuid"] for item in namespace["document"]["report"]["inventory"]}
    assert len(gpus) == 32

    rows = list(csv.DictReader(io.StringIO(downloads["csv"].decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(downloads["xlsx"]), read_only=True).active
    header, *cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    xlsx_rows = [dict(zip(header, row)) for row in cells]
    for rendering, table in (("csv", rows), ("xlsx", xlsx_rows)):
        assert {row["gpu_uuid"] for row in table} == gpus, rendering
        assert {row["report_content_sha256"] for row in table} == {served}, rendering
        assert {row["license_required"] for row in table} == {"yes"}, rendering

    # The API reference a token holder reads, drawn from this origin alone (no CDN).
    for step, (docs_page, drawn) in enumerate((("/api/docs/", ".swagger-ui .info"), ("/api/redoc/", ".api-content")), 3):
        page.goto(embedded_service.url + docs_page)
        page.wait_for_selector(drawn, timeout=60_000)
        checked(page, audit, f"auditor-0{step}-{docs_page.strip('/').replace('/', '-')}")
