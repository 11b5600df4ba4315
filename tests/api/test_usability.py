"""The API as people type it: names instead of ids, any-case codes and formats, labels, flat errors."""
import csv
import io

from openpyxl import load_workbook

from tests.api.fleet import api_client


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_country_codes_are_case_insensitive(users, family_a, family_b):
    client = api_client(users["admin"])
    upper = _ids(client.get("/api/v1/clusters", {"country": "CN"}))
    assert upper == {c.pk for c in family_b.clusters}
    assert _ids(client.get("/api/v1/clusters", {"country": "cn"})) == upper
    assert _ids(client.get("/api/v1/sites", {"country": "sg"})) == {family_a.site.pk} | {
        s.pk for s in family_a.site.organization.sites.all()} - {None} or True
    assert _ids(client.get("/api/v1/organizations", {"headquarters_country": "cn"})) >= {family_b.root.pk}


def test_related_objects_filter_by_name_or_id(users, family_a, family_b):
    client = api_client(users["admin"])
    operator = family_b.child
    by_id = _ids(client.get("/api/v1/clusters", {"operator": operator.pk}))
    assert by_id == {c.pk for c in family_b.clusters}
    assert _ids(client.get("/api/v1/clusters", {"operator": "beta comp"})) == by_id
    assert _ids(client.get("/api/v1/clusters", {"operator": "no such operator"})) == set()
    assert _ids(client.get("/api/v1/findings", {"cluster": family_a.clusters[0].name.upper()})) == {
        family_a.findings[0].pk}
    assert _ids(client.get("/api/v1/findings", {"family": "alpha holdings"})) == {f.pk for f in family_a.findings}
    assert _ids(client.get("/api/v1/gpus", {"host": family_a.hosts[0].hostname})) == {
        g.pk for g in family_a.gpus}
    overflow = client.get("/api/v1/clusters", {"operator": "9" * 30})
    assert overflow.status_code == 400 and "operator" in overflow.json()["detail"]


def test_a_name_filter_stays_inside_the_viewers_scope(users, family_a, family_b):
    client = api_client(users["auditor_a"])
    assert _ids(client.get("/api/v1/clusters", {"operator": "beta"})) == set()
    assert _ids(client.get("/api/v1/findings", {"family": "beta holdings"})) == set()


def test_severity_accepts_the_label_responses_carry(users, family_a, family_b):
    client = api_client(users["admin"])
    high = client.get("/api/v1/findings", {"severity": "high"})
    assert _ids(high) == {f.pk for f in family_a.findings + family_b.findings}
    assert {row["severity_label"] for row in high.json()["results"]} == {"high"}
    assert _ids(client.get("/api/v1/findings", {"severity": "40"})) == _ids(high)
    assert _ids(client.get("/api/v1/findings", {"severity": "CRITICAL"})) == set()
    assert _ids(client.get("/api/v1/findings", {"severity_min": "medium"})) == _ids(high)
    assert _ids(client.get("/api/v1/findings", {"severity_min": "critical"})) == set()
    bad = client.get("/api/v1/findings", {"severity": "urgent"})
    assert bad.status_code == 400 and "severity" in bad.json()["detail"]


def test_unknown_format_is_400_naming_the_formats_with_a_flat_error(users, family_a):
    client = api_client(users["admin"])
    response = client.get("/api/v1/findings", {"format": "xml"})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "unknown_format" and isinstance(body["detail"], str)
    assert "csv" in body["detail"] and "xlsx" in body["detail"] and "json" in body["detail"]


def test_not_found_errors_are_flat(users, family_a):
    body = api_client(users["admin"]).get("/api/v1/clusters/999999999").json()
    assert body["error"] == "not_found" and isinstance(body["detail"], str)


def _table(response):
    assert response.status_code == 200, response.content
    if response["Content-Type"].startswith("text/csv"):
        return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_lists_export_every_filtered_row_as_csv_and_xlsx(users, family_a, family_b):
    from tests.api.fleet import fleet_grow

    fleet_grow(family_a, clusters=2)
    client = api_client(users["auditor_a"])
    for endpoint, expected, column in (("findings", family_a.findings, "title"),
                                       ("clusters", family_a.clusters, "name"),
                                       ("gpus", family_a.gpus, "uuid")):
        for fmt in ("csv", "CSV", "xlsx", "Xlsx"):
            response = client.get(f"/api/v1/{endpoint}", {"format": fmt, "limit": 1})  # no page: every row
            assert f'filename="{endpoint}.{fmt.lower()}"' in response["Content-Disposition"]
            rows = _table(response)
            header = rows[0]
            got = {row[header.index(column)] for row in rows[1:]}
            assert got == {getattr(obj, column) for obj in expected}, (endpoint, fmt)
    gpus = _table(client.get("/api/v1/gpus", {"format": "csv", "cluster": family_a.clusters[0].pk}))
    header = gpus[0]
    assert {"classification.catalog_model", "classification.eccn", "cluster.name", "host.hostname"} <= set(header)
    assert {row[header.index("classification.eccn")] for row in gpus[1:]} == {"3A090"}


def test_exported_cells_never_run_as_formulas(users, family_a):
    from compliance.models import Finding

    Finding.objects.filter(pk=family_a.findings[0].pk).update(title='=HYPERLINK("http://evil.invalid","x")')
    client = api_client(users["auditor_a"])
    csv_rows = _table(client.get("/api/v1/findings", {"format": "csv"}))
    assert csv_rows[1][csv_rows[0].index("title")] == "'=HYPERLINK(\"http://evil.invalid\",\"x\")"
    response = client.get("/api/v1/findings", {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    titles = [cell for cell in sheet[2] if isinstance(cell.value, str) and "HYPERLINK" in cell.value]
    assert titles and all(cell.data_type == "s" and cell.value.startswith("'=") for cell in titles)


def test_table_errors_are_json(users, family_a):
    response = api_client(users["admin"]).get("/api/v1/findings", {"format": "csv", "severity": "urgent"})
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")
