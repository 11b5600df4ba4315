"""GET /api/v1/clusters/{id}/audit: canonical, hashed, reproducible, in JSON; per GPU in CSV and XLSX."""
import csv
import hashlib
import io
import json
from datetime import date, timedelta

from openpyxl import load_workbook

from tests.api.fleet import api_client


def _report(client, cluster, **params):
    return client.get(f"/api/v1/clusters/{cluster.pk}/audit", params)


def test_json_is_canonical_hashed_and_reproducible(users, family_a):
    client = api_client(users["auditor_a"])
    cluster = family_a.clusters[0]
    today = date.today().isoformat()
    first, second = _report(client, cluster, as_of=today), _report(client, cluster, as_of=today)
    assert first.status_code == 200, first.content
    assert first.content == second.content
    document = json.loads(first.content)
    canonical_report = json.dumps(document["report"], sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False).encode()
    assert document["content_sha256"] == hashlib.sha256(canonical_report).hexdigest()
    assert first.content == json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert first["X-Content-SHA256"] == document["content_sha256"] == first["ETag"].strip('"')
    report = document["report"]
    assert report["as_of"] == today and report["cluster"]["id"] == cluster.pk
    assert {g["uuid"] for g in report["inventory"]} == {g.uuid for g in family_a.gpus}
    assert report["findings"][0]["evidence_observation_ids"] == [family_a.observations[0].pk]


def test_leaves_has_every_leaf_and_the_same_hash(users, family_a):
    client = api_client(users["auditor_a"])
    cluster = family_a.clusters[0]
    as_of = date.today().isoformat()
    as_json = json.loads(_report(client, cluster, as_of=as_of).content)
    response = _report(client, cluster, as_of=as_of, format="leaves")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.content == _report(client, cluster, as_of=as_of, format="leaves").content
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["path", "value"]
    cells = dict(rows[1:])
    assert cells["content_sha256"] == as_json["content_sha256"] == response["X-Content-SHA256"]
    assert cells["report.cluster.name"] == cluster.name
    assert cells["report.findings[0].id"] == str(family_a.findings[0].pk)


def _per_gpu_rows(client, cluster, as_of, fmt):
    response = _report(client, cluster, as_of=as_of, format=fmt)
    assert response.status_code == 200, response.content
    assert response["Content-Disposition"].startswith("attachment; filename=") and f".{fmt}" in \
        response["Content-Disposition"]
    if fmt == "csv":
        assert response.content.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 names right
        return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def test_csv_and_xlsx_have_one_row_per_gpu_with_classification_and_licence(users, family_a):
    client = api_client(users["auditor_a"])
    cluster = family_a.clusters[0]
    as_of = date.today().isoformat()
    document = json.loads(_report(client, cluster, as_of=as_of).content)
    for fmt in ("csv", "xlsx", "CSV", "XLSX"):
        rows = _per_gpu_rows(client, cluster, as_of, fmt.lower()) if fmt.islower() else None
        if rows is None:  # the format is case-insensitive: same bytes as the lower-case one
            assert (_report(client, cluster, as_of=as_of, format=fmt).content
                    == _report(client, cluster, as_of=as_of, format=fmt.lower()).content)
            continue
        header, body = rows[0], rows[1:]
        for column in ("gpu_uuid", "catalog_model", "eccn", "paragraph", "license_required", "review_policy",
                       "license_reasons", "licenses_on_record", "report_content_sha256"):
            assert column in header, column
        by_uuid = {row[header.index("gpu_uuid")]: dict(zip(header, row)) for row in body}
        assert set(by_uuid) == {g.uuid for g in family_a.gpus}
        for row in by_uuid.values():
            assert row["report_content_sha256"] == document["content_sha256"]
            assert row["cluster"] == cluster.name and row["as_of"] == as_of
            verdict = document["report"]["figures"]["models"].get(row["catalog_model"])
            if verdict and verdict.get("license") and verdict["license"]["license_required"] is not None:
                assert row["eccn"] == (verdict["classification"]["eccn"] or "not 3A090/4A090")
                assert row["license_required"] == ("yes" if verdict["license"]["license_required"] else "no")
            else:
                assert row["license_required"].startswith("undetermined")


def test_a_past_date_reports_the_past(users, family_a):
    """Before anything was observed the cluster had no inventory; the report says so, stably."""
    client = api_client(users["officer"])
    long_ago = (date.today() - timedelta(days=3650)).isoformat()
    report = json.loads(_report(client, family_a.clusters[0], as_of=long_ago).content)["report"]
    assert report["inventory"] == [] and report["findings"] == []


def test_bad_dates_are_400_in_json_whatever_the_format(users, family_a):
    client = api_client(users["officer"])
    cluster = family_a.clusters[0]
    for params in ({}, {"as_of": "2026-13-01"}, {"as_of": "yesterday", "format": "csv"},
                   {"as_of": (date.today() + timedelta(days=2)).isoformat()}):
        response = _report(client, cluster, **params)
        assert response.status_code == 400, params
        assert response["Content-Type"].startswith("application/json")
        assert "as_of" in response.json()["detail"]


def test_another_tenants_cluster_is_404(users, family_a, family_b):
    client = api_client(users["auditor_b"])
    assert _report(client, family_a.clusters[0], as_of="2026-01-01").status_code == 404
    assert _report(client, family_b.clusters[0], as_of="2026-01-01", format="csv").status_code == 200
    assert _report(client, family_a.clusters[0], as_of="2026-01-01", format="xlsx").status_code == 404
