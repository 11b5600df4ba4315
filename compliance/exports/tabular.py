"""Tables a spreadsheet user can open: CSV and XLSX from one list of columns and rows.

Every string cell that a spreadsheet would run as a formula (a leading `=`, `+`, `-`, `@`, tab or
carriage return: OWASP "CSV injection") is written with a leading apostrophe, in both formats.
Organization names, hostnames and reported GPU names come from people we audit.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from openpyxl import Workbook

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# The largest text an XLSX cell holds (Excel's limit); longer values are cut with a marker.
XLSX_CELL_LIMIT = 32_767


def formula_neutralise(value: str) -> str:
    """`=HYPERLINK(...)` → `'=HYPERLINK(...)`: shown as typed, never evaluated."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def cell(value):
    """A scalar for a cell: numbers and booleans as they are, None empty, lists joined, objects as JSON."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        if all(isinstance(item, str | int | float) for item in value):
            return formula_neutralise("; ".join(str(item) for item in value))
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    elif isinstance(value, dict):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return formula_neutralise(str(value))


@dataclass
class Table:
    title: str  # the sheet name and the download's file name
    columns: Sequence[str]
    rows: Iterable[Sequence]

    def cells(self) -> Iterable[list]:
        for row in self.rows:
            yield [cell(value) for value in row]


def table_csv(table: Table) -> bytes:
    """UTF-8 with a byte-order mark, so Excel reads non-ASCII names right; one header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.cells():
        writer.writerow(["" if value is None else value for value in row])
    return out.getvalue().encode("utf-8-sig")


def table_xlsx(table: Table) -> bytes:
    """One sheet, a bold frozen header row, every cell a value (no formula, whatever the text)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=_sheet_title(table.title))
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for name in table.columns:
        heading = WriteOnlyCell(sheet, value=name)
        heading.font = bold
        header.append(heading)
    sheet.append(header)
    for row in table.cells():
        written = []
        for value in row:
            if isinstance(value, str):
                if len(value) > XLSX_CELL_LIMIT:
                    value = value[:XLSX_CELL_LIMIT - 12] + " [truncated]"
                text = WriteOnlyCell(sheet, value=value)
                text.data_type = "s"  # openpyxl would otherwise store a leading "=" as a formula
                written.append(text)
            else:
                written.append(value)
        sheet.append(written)
    return workbook_bytes(book)


# The zip format's first representable moment, stamped on every workbook part.
_PACKAGE_TIME = datetime(1980, 1, 1)


def workbook_bytes(book: Workbook) -> bytes:
    """The workbook as bytes that depend only on its content.  openpyxl stamps the document
    properties and every zip entry with the time of writing, so two downloads of one audit a
    second apart differed (and an auditor comparing hashes would see two documents)."""
    from openpyxl.writer.excel import ExcelWriter

    book.properties.created = book.properties.modified = _PACKAGE_TIME
    written = io.BytesIO()
    ExcelWriter(book, zipfile.ZipFile(written, "w", zipfile.ZIP_DEFLATED)).save()
    out = io.BytesIO()
    with zipfile.ZipFile(written) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            stamped = zipfile.ZipInfo(entry.filename, date_time=_PACKAGE_TIME.timetuple()[:6])
            stamped.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(stamped, source.read(entry))
    return out.getvalue()


def _sheet_title(title: str) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join("_" if c in "[]:*?/\\" else c for c in title)
    return cleaned[:31] or "sheet"


def rows_flatten(records: list[dict], *, title: str) -> Table:
    """Serialized API rows as a table: nested objects become `parent.child` columns, first-seen order."""
    columns: dict[str, None] = {}
    flat_rows = []
    for record in records:
        flat = dict(_flatten(record))
        flat_rows.append(flat)
        columns.update(dict.fromkeys(flat))
    names = list(columns)
    return Table(title=title, columns=names, rows=[[row.get(name) for name in names] for row in flat_rows])


def _flatten(value: dict, prefix: str = ""):
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict) and item and len(item) <= 8 and all(
                not isinstance(v, dict | list) for v in item.values()):
            yield from _flatten(item, f"{name}.")
        else:
            yield name, item
