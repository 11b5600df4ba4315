"""The compute API (JSON, CSV, XLSX), the cluster page's compute panel and the audit report's compute, on
the two-host training run of test_runs (16 H800s, 8 hours of 5-minute samples, 4 of them at 97 %):
known answers, tenant scope, query counts, and an audit of a past day unchanged by samples sent later."""
import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from compliance.access.models import RoleGrant
from compliance.audit.canonical import canonical_json, sha256_hex
from compliance.compute.models import ComputeBucket
from compliance.compute.services import compute_rollup, training_runs_evaluate
from compliance.services import cluster_audit_report
from inventory.models import Host
from tests.api.fleet import api_client

from .conftest import T0, every, findings, history
from .test_runs import HOUR, RUN_END, RUN_START, small_runs, two_hosts  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
FP16, FP8, MFU_FLOOR = 989.4e12, 1978.9e12, 0.15
GPU_HOURS = 16 * 8
BUSY_SECONDS = 16 * (4 * 0.97 + 4 * 0.05) * 3600
DAY = T0.date()


@pytest.fixture
def trained(fleet, sg_cluster):
    """The run rolled up and raised as a finding; an auditor of the operator's parent and one of a stranger."""
    two_hosts(fleet, sg_cluster)
    training_runs_evaluate(cluster_ids=[sg_cluster.id], now=T0 + 10 * HOUR)
    return sg_cluster


@pytest.fixture
def auditors(trained, fleet, django_user_model):
    stranger = fleet.org("Elsewhere Compute", "US")
    out = {}
    for name, org in (("own", trained.operator.parent), ("stranger", stranger)):
        user = django_user_model.objects.create_user(f"auditor-{name}")
        RoleGrant.objects.create(user=user, role="auditor", organization=org)
        out[name] = user
    return out


def compute_url(cluster, **params):
    query = "&".join(f"{k}={v}" for k, v in {"start": DAY.isoformat(),
                                              "end": (DAY + timedelta(days=1)).isoformat(), **params}.items())
    return f"/api/v1/clusters/{cluster.pk}/compute?{query}"


def test_api_known_answers_and_run_linked_to_its_finding(trained, auditors):
    document = api_client(auditors["own"]).get(compute_url(trained)).json()
    assert document["totals"]["gpu_hours"] == pytest.approx(GPU_HOURS)
    assert document["totals"]["ops_upper"] == pytest.approx(FP8 * BUSY_SECONDS)
    assert document["totals"]["ops_lower"] == pytest.approx(MFU_FLOOR * FP16 * BUSY_SECONDS)
    [row] = document["rows"]
    assert (row["week"], row["chip_name"], row["catalog_model"], row["peak_gpus"]) == (
        "2026-08-31", "NVIDIA H800", "h800-sxm", 16)
    assert row["samples"] == 16 * 96 and row["first_sample_id"] < row["last_sample_id"]
    [run] = document["runs"]
    [finding] = findings("training_run")
    assert (run["start"], run["end"], run["finding_id"]) == (RUN_START.isoformat(), RUN_END.isoformat(), finding.id)
    assert run["gpu_hours"] == pytest.approx(64)
    assert {t["key"] for t in document["thresholds"]} >= {"eccn-4e091", "eu-ai-act-art-51"}
    assert document["caveat"] == "utilization is a duty cycle, not tensor-core occupancy"


def test_api_precision_picks_one_precisions_bounds(trained, auditors):
    client = api_client(auditors["own"])
    fp16 = client.get(compute_url(trained, precision="fp16")).json()["totals"]
    fp8 = client.get(compute_url(trained, precision="fp8")).json()["totals"]
    assert (fp16["ops_lower"], fp16["ops_upper"]) == pytest.approx((MFU_FLOOR * FP16 * BUSY_SECONDS, FP16 * BUSY_SECONDS))
    assert (fp8["ops_lower"], fp8["ops_upper"]) == pytest.approx((MFU_FLOOR * FP8 * BUSY_SECONDS, FP8 * BUSY_SECONDS))
    response = client.get(compute_url(trained, precision="fp4"))
    assert response.status_code == 400 and "precision" in response.json()["detail"]


def test_api_bad_periods_are_400_naming_the_field(trained, auditors):
    client = api_client(auditors["own"])
    assert "start" in client.get(compute_url(trained, start="2026-09-05", end="2026-09-01")).json()["detail"]
    assert "end" in client.get(compute_url(trained, start="2020-01-01", end="2026-09-01")).json()["detail"]
    response = client.get(compute_url(trained, start="yesterday", format="csv"))
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")


def test_csv_and_xlsx_one_row_per_week_and_model(trained, auditors):
    client = api_client(auditors["own"])
    response = client.get(compute_url(trained, format="csv"))
    assert response.status_code == 200 and 'filename="compute-cluster-' in response["Content-Disposition"]
    [row] = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert float(row["gpu_hours"]) == pytest.approx(GPU_HOURS) and row["catalog_model"] == "h800-sxm"
    assert float(row["ops_upper"]) == pytest.approx(FP8 * BUSY_SECONDS)
    sheet = load_workbook(io.BytesIO(client.get(compute_url(trained, format="xlsx")).content)).active
    header, values = [c.value for c in sheet[1]], [c.value for c in sheet[2]]
    assert dict(zip(header, values))["samples"] == 16 * 96 and sheet.max_row == 2


def test_another_tenants_cluster_is_404(trained, auditors):
    assert api_client(auditors["stranger"]).get(compute_url(trained)).status_code == 404
    assert api_client(None).get(compute_url(trained)).status_code in (401, 403)


def test_queries_do_not_grow_with_weeks_and_runs(trained, auditors):
    """Ten more weeks, each with a five-hour run raised as a finding: the same number of queries."""
    client = api_client(auditors["own"])
    url = compute_url(trained, end=(DAY + timedelta(weeks=12)).isoformat())
    client.get(url)  # the token's first use records its last_used_at

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    before = count()
    template = ComputeBucket.objects.filter(cluster=trained, training_gpus=16).first()
    for week in range(1, 11):
        for hour in range(5):
            template.pk, template._state.adding = None, True
            template.start = RUN_START + timedelta(weeks=week, hours=hour)
            template.save()
    training_runs_evaluate(cluster_ids=[trained.id], now=RUN_START + timedelta(weeks=11))
    document = client.get(url).json()
    assert len(document["runs"]) == 11 and all(run["finding_id"] for run in document["runs"])
    assert len(document["weeks"]) == 11
    assert count() == before


def test_cluster_page_compute_panel(trained, auditors, client):
    client.force_login(auditors["own"])
    page = client.get(f"/clusters/{trained.pk}/?compute_start={DAY}&compute_end={DAY + timedelta(days=7)}")
    html = page.content.decode()
    assert page.status_code == 200 and 'id="compute"' in html
    assert "utilization is a duty cycle, not tensor-core occupancy" in html
    assert "Art. 51(2)" in html and "4E091" in html and "not enforced" in html
    [finding] = findings("training_run")
    assert f'href="/findings/{finding.id}/"' in html  # the run's box and its row link to the finding
    assert 'data-chart="compute-timeline"' in html and "128" in html
    assert "//cdn" not in html and "https://" not in html.split('id="compute"')[1].split("</section>")[0]
    bad = client.get(f"/clusters/{trained.pk}/?compute_start=someday").content.decode()
    assert 'id="compute-error"' in bad
    assert "last rolled up for this cluster" in html  # the panel says how fresh the rollup it reads is


def test_cluster_page_says_when_nothing_was_rolled_up_yet(trained, auditors, client):
    from compliance.compute.models import ComputeBucket, FabricComputeBucket

    FabricComputeBucket.objects.filter(cluster=trained).delete()
    ComputeBucket.objects.filter(cluster=trained).delete()
    client.force_login(auditors["own"])
    html = client.get(f"/clusters/{trained.pk}/").content.decode()
    assert "not rolled up for this cluster yet" in html


def test_cluster_page_of_another_tenant_is_404(trained, auditors, client):
    client.force_login(auditors["stranger"])
    assert client.get(f"/clusters/{trained.pk}/").status_code == 404


def audit_hash(cluster) -> tuple[str, dict]:
    report = cluster_audit_report(cluster=cluster, as_of=DAY)
    return sha256_hex(canonical_json(report)), report["compute"]


def test_audit_of_a_past_day_is_unchanged_by_samples_sent_later(trained):
    before, compute = audit_hash(trained)
    assert compute["gpu_hours"] == pytest.approx(GPU_HOURS)
    assert compute["ops_upper"] == pytest.approx(FP8 * BUSY_SECONDS, rel=1e-8)
    [run] = compute["runs"]
    assert (run["start"], run["end"], run["peak_gpus"]) == (RUN_START.isoformat(), RUN_END.isoformat(), 16)
    host = Host.objects.filter(cluster=trained).order_by("id").first()
    node = type("Late", (), {"host": host, "agent": host.agents.first()})
    # Collected on that day but delivered two days later (a spool catching up), and collected the next day.
    late = every(T0 + 9 * HOUR + timedelta(minutes=5), minutes=5, count=24)
    history(node, late, received=lambda moment: moment + timedelta(days=2))
    history(node, every(T0 + timedelta(days=1, hours=3), minutes=5, count=24))
    after, compute_after = audit_hash(trained)
    assert after == before and compute_after == compute
    # The rollup (what the panel shows now) does count the late samples: the audit ignored them on purpose.
    compute_rollup(start=T0 + HOUR, end=T0 + 12 * HOUR)
    rolled = sum(b.gpu_seconds for b in ComputeBucket.objects.filter(cluster=trained)) / 3600
    assert rolled > GPU_HOURS
    # An audit of the day after does see them.
    assert cluster_audit_report(cluster=trained, as_of=DAY + timedelta(days=2))["compute"]["gpu_hours"] > GPU_HOURS
