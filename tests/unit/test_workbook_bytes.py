"""An export's XLSX bytes depend on its content only, not on the second it was written: an auditor
downloading one audit twice must get one document (same SHA-256)."""
import io
import time
import zipfile

from openpyxl import load_workbook

from compliance.exports.tabular import Table, table_xlsx
from inventory.declaration_sheets import sheets_write


def _table(rows):
    return Table(title="audit", columns=["gpu", "eccn"], rows=rows)


def test_the_same_table_written_seconds_apart_gives_the_same_bytes():
    first = table_xlsx(_table([["GPU-1", "3A090.a"]]))
    time.sleep(2.1)  # the zip format's timestamps count in steps of two seconds
    assert table_xlsx(_table([["GPU-1", "3A090.a"]])) == first


def test_the_declarations_workbook_too():
    first = sheets_write(sheets={}, fmt="xlsx")
    time.sleep(2.1)
    assert sheets_write(sheets={}, fmt="xlsx") == first


def test_the_bytes_still_follow_the_content_and_open_as_a_workbook():
    written = table_xlsx(_table([["GPU-1", "3A090.a"]]))
    assert table_xlsx(_table([["GPU-1", "3A090.b"]])) != written
    assert zipfile.ZipFile(io.BytesIO(written)).testzip() is None
    sheet = load_workbook(io.BytesIO(written), read_only=True).active
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [["gpu", "eccn"], ["GPU-1", "3A090.a"]]
