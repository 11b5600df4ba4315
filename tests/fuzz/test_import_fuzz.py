"""Hostile files for every command that reads one: `import_declarations`, `import_csl` and the
chip catalog loader.  Each either imports or fails with its own clear error (CommandError,
CatalogError) naming the problem — never another exception, which an operator would see as a
traceback — and a failed import leaves every table it writes exactly as it was (all or nothing).

The inputs start from real files (the CSL fixture, the shipped catalog, a valid declarations
CSV) with one value replaced by something absurd, so they get past the first parse, plus raw
bytes that are not the format at all.
"""
from __future__ import annotations

import copy
import csv
import io
import itertools
import json
from pathlib import Path

import pytest
import yaml
from django.apps import apps
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings, strategies as st

from inventory.models import Declaration
from compliance.core.catalog import CATALOG_PATH, Catalog, CatalogError, load_catalog
from tests.fuzz.test_report_fuzz import _at, hostile_values, leaf_paths, replace_at

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CSL_JSON = Path(__file__).resolve().parent.parent / "fixtures" / "csl" / "consolidated.json"
CSL_CSV = CSL_JSON.with_suffix(".csv")

raw_files = st.one_of(
    st.binary(max_size=1024),
    st.sampled_from([b"", b"\xff\xfe\x00\x00", b"\x00" * 64, b"\xef\xbb\xbf", b'{"results": ' * 5000,
                     b"[" * 100_000, b"a,b\n" + b"x" * 200_000 + b",y\n", b'"unterminated\n']),
    st.text(max_size=500).map(lambda s: s.encode("utf-8", "surrogatepass")),
)
# hostile_values minus the 300 kB string: a CSV cell of that size is covered by raw_files already.
cell_values = st.one_of(st.text(max_size=80), st.sampled_from(["\x00", "x" * 70, "=cmd|' /C calc'!A0", "\r\n", '"']))


@pytest.fixture
def files(tmp_path):
    """A writer of fresh file names: hypothesis runs many examples in one test call."""
    counter = itertools.count()

    def write(data: bytes, suffix: str) -> Path:
        path = tmp_path / f"input-{next(counter)}{suffix}"
        path.write_bytes(data)
        return path
    return write


def table_counts(*app_labels: str) -> dict:
    return {m._meta.label: m.objects.count() for label in app_labels for m in apps.get_app_config(label).get_models()}


def run_command(name: str, path: Path, tables: tuple[str, ...]) -> bool:
    """True when the command imported; on a CommandError, the tables must be untouched."""
    before = table_counts(*tables)
    try:
        call_command(name, str(path), stdout=io.StringIO(), stderr=io.StringIO())
    except CommandError as error:
        assert str(error), "a CommandError must say what is wrong"
        assert table_counts(*tables) == before, f"{name} failed but wrote rows"
        outcome = "refused"
    else:
        outcome = "imported"
    if currently_in_test_context():
        event(f"{name}: {outcome}")
    return outcome == "imported"


# --- import_declarations ---------------------------------------------------------------

def declarations_csv(rows: list[list[str]], header=("gpu_uuid", "serial", "licensed_end_user", "site",
                                                    "license_number")) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


@FUZZ
@given(data=st.data())
def test_import_declarations_survives_hostile_csv(cluster, files, data):
    org, site = cluster.operator.name, cluster.site.name
    valid_row = [f"GPU-{data.draw(st.uuids())}", "", org, site, "D123"]
    rows = [list(valid_row) for _ in range(data.draw(st.integers(1, 3), label="rows"))]
    row, column = data.draw(st.integers(0, len(rows) - 1)), data.draw(st.integers(0, 4))
    rows[row][column] = data.draw(cell_values, label="cell")
    content = data.draw(st.one_of(st.just(declarations_csv(rows)), raw_files), label="file")
    run_command("import_declarations", files(content, ".csv"), ("inventory",))


@pytest.mark.parametrize("cell, message", [("GPU-\x00x", "NUL character"), ("x" * 200_000, "unreadable CSV")])
def test_import_declarations_nul_and_oversized_fields_are_command_errors(cluster, files, cell, message):
    """Found by the test above: csv's field limit escaped as _csv.Error, and PostgreSQL refused
    the NUL with a DataError after the transaction had begun."""
    content = declarations_csv([[cell, "", cluster.operator.name, cluster.site.name, ""]])
    with pytest.raises(CommandError, match=message):
        call_command("import_declarations", str(files(content, ".csv")), stdout=io.StringIO())
    assert not Declaration.objects.exists()


# --- import_csl ---------------------------------------------------------------------------

CSL_DOCUMENT = json.loads(CSL_JSON.read_text(encoding="utf-8"))
CSL_DOCUMENT["results"] = CSL_DOCUMENT["results"][:3]  # every field shape, a fraction of the rows
CSL_PATHS = [p for p in leaf_paths(CSL_DOCUMENT) if p]
CSL_CSV_TEXT = "\n".join(CSL_CSV.read_text(encoding="utf-8").splitlines()[:4]) + "\n"


@FUZZ
@given(path=st.sampled_from(CSL_PATHS), value=hostile_values.filter(lambda v: not isinstance(v, str) or len(v) < 10**5))
def test_import_csl_json_with_one_hostile_value(db, files, path, value):
    document = replace_at(CSL_DOCUMENT, path, value)
    run_command("import_csl", files(json.dumps(document).encode(), ".json"), ("screening",))


@FUZZ
@given(data=st.data())
def test_import_csl_csv_with_one_hostile_cell_or_raw_bytes(db, files, data):
    rows = list(csv.reader(io.StringIO(CSL_CSV_TEXT)))
    row, column = data.draw(st.integers(1, len(rows) - 1)), data.draw(st.integers(0, len(rows[0]) - 1))
    rows[row][column] = data.draw(cell_values, label="cell")
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    content = data.draw(st.one_of(st.just(out.getvalue().encode("utf-8", "surrogatepass")), raw_files))
    run_command("import_csl", files(content, data.draw(st.sampled_from([".csv", ".json", ""]))), ("screening",))


@pytest.mark.parametrize("content", [
    json.dumps(replace_at(CSL_DOCUMENT, ("results", 0, "name"), "Huawei\x00")).encode(), b'{"results": ' * 5000,
], ids=["nul", "deep-nesting"])
def test_import_csl_nul_and_deep_nesting_are_command_errors(db, files, content):
    """Found by the tests above: a NUL reached PostgreSQL as a DataError, deep nesting raised RecursionError."""
    assert run_command("import_csl", files(content, ".json"), ("screening",)) is False


# --- the chip catalog -----------------------------------------------------------------------
# load_catalog takes ~0.15 s (PyYAML and the JSON schema), so these run fewer examples.

CATALOG_FUZZ = settings(FUZZ, max_examples=35)
CATALOG_DOCUMENT = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
CATALOG_PATHS = [p for p in leaf_paths(CATALOG_DOCUMENT) if p]
yaml_tricks = st.sampled_from([
    b"!!python/object/apply:os.system ['true']", b"chips: !!binary AAAA", b"chips: [*undefined]",
    b"a: &a [*a]", b"chips: {", b"%YAML 9.9\n---\n", b"- - - - - - - - -", b"chips: 1e999\nsources: .nan",
    b"[" * 200 + b"]" * 200,
])


def load(tmp_file: Path) -> None:
    try:
        assert isinstance(load_catalog(tmp_file), Catalog)
    except CatalogError as error:
        assert str(error).startswith(tmp_file.name), "the error names the file"
        outcome = "refused"
    else:
        outcome = "loaded"
    if currently_in_test_context():
        event(f"catalog {outcome}")


@CATALOG_FUZZ
@given(path=st.sampled_from(CATALOG_PATHS), value=hostile_values.filter(lambda v: not isinstance(v, list)))
def test_catalog_with_one_hostile_value(files, path, value):
    document = replace_at(CATALOG_DOCUMENT, path, value)
    load(files(yaml.safe_dump(document, allow_unicode=True).encode("utf-8", "surrogatepass"), ".yaml"))


@CATALOG_FUZZ
@given(content=st.one_of(st.text(max_size=500).map(str.encode), yaml_tricks))
def test_catalog_from_hostile_text(files, content):
    """Hostile text; invalid UTF-8 and unbounded nesting have their own test below."""
    load(files(content, ".yaml"))


@pytest.mark.parametrize("content", [b"chips: \x80\xff", b"[" * 100_000], ids=["invalid-utf8", "deep-nesting"])
def test_catalog_invalid_utf8_and_deep_nesting_are_catalog_errors(files, content):
    with pytest.raises(CatalogError, match="cannot read catalog"):
        load_catalog(files(content, ".yaml"))
