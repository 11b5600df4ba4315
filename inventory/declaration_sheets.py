"""The declarations template: which sheets and columns a compliance team's spreadsheet has, read from and
written to XLSX (one sheet each) and CSV (one file, a `sheet` column naming each row's sheet).

Reading keeps every cell as the text a person typed: an XLSX formula (`=HYPERLINK(...)`) is read as its
formula text, never evaluated, and a leading apostrophe before `=`, `+`, `-`, `@` (the spreadsheet's
"this is text" marker, which our exports write, compliance.exports.tabular) is dropped, so an export
imports back to the same values. Writing neutralises formula-looking text the same way the exports do.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

from compliance.exports.tabular import FORMULA_TRIGGERS, XLSX_CELL_LIMIT, cell, workbook_bytes

SHEETS: dict[str, tuple[str, ...]] = {
    "organizations": ("name", "kind", "parent", "country_of_incorporation", "headquarters_country", "aliases"),
    "sites": ("organization", "name", "country", "city", "latitude", "longitude"),
    "clusters": ("site", "name", "operator", "declared_purpose"),
    "licences": ("number", "holder", "destination_country", "eccns", "quantity", "valid_from", "valid_until",
                 "sites"),
    "transfers": ("gpu_uuid", "from_site", "to_site", "effective_date", "license_number"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "organizations": ("name", "headquarters_country"),
    "sites": ("organization", "name", "country"),
    "clusters": ("site", "name", "operator"),
    "licences": ("number", "holder", "destination_country", "eccns", "valid_from"),
    "transfers": ("gpu_uuid", "to_site", "effective_date"),
}
SHEET_COLUMN = "sheet"  # CSV only
README_SHEET = "README"  # the blank template's instructions; skipped on import
LIST_SEPARATOR = ";"
SITE_QUALIFIER = " / "  # 'ORGANIZATION / SITE': a site name is unique only within its organization
FORMATS = ("csv", "xlsx")
README_LINES = (
    "chipwatch declarations template: one sheet per kind of record; the first row names the columns.",
    "Import: python manage.py declarations import FILE --dry-run, then without --dry-run; or the officer "
    "page /declarations/import/. All rows or none; docs/declarations.md describes every column.",
    "Lists (aliases, eccns, sites) are separated by ';'. Dates are YYYY-MM-DD. Countries are ISO 3166-1 "
    "alpha-2 codes (US, CN, SG).",
    "A site is named 'SITE' when its name is unique, else 'ORGANIZATION / SITE'.",
)


class SheetFormatError(ValueError):
    """The file is not a declarations file at all (unreadable, unknown sheet or column); nothing is imported."""


@dataclass(frozen=True)
class SheetRow:
    sheet: str
    row: int  # the spreadsheet row or CSV line a person sees, header = 1
    values: dict[str, str]


def format_of(name: str, explicit: str | None = None) -> str:
    """The format asked for, else the file name's extension."""
    chosen = (explicit or name.rsplit(".", 1)[-1]).lower()
    if chosen not in FORMATS:
        raise SheetFormatError(f"{name}: say --format csv or xlsx (the name ends in neither)")
    return chosen


def sheet_rows_read(*, data: bytes, fmt: str, source_name: str) -> list[SheetRow]:
    """Every non-empty row of every declarations sheet, in the template's sheet order."""
    rows = _xlsx_rows(data, source_name) if fmt == "xlsx" else _csv_rows(data, source_name)
    order = list(SHEETS)
    return sorted(rows, key=lambda r: (order.index(r.sheet), r.row))


def text_of(value) -> str:
    """A cell as the text it holds: dates ISO, integral floats without '.0', a text marker apostrophe dropped."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if text.startswith("'") and text[1:2] and text[1:].startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


def _checked_header(sheet: str, header: list[str], where: str) -> list[str]:
    columns = SHEETS[sheet]
    unknown = [name for name in header if name and name not in columns]
    if unknown:
        raise SheetFormatError(f"{where}: unknown column {unknown[0]!r} (sheet {sheet!r} has {', '.join(columns)})")
    missing = [name for name in REQUIRED[sheet] if name not in header]
    if missing:
        raise SheetFormatError(f"{where}: missing column {missing[0]!r} (sheet {sheet!r} needs "
                               f"{', '.join(REQUIRED[sheet])})")
    return header


def _xlsx_rows(data: bytes, source_name: str) -> list[SheetRow]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (BadZipFile, KeyError, ValueError, OSError) as exc:
        raise SheetFormatError(f"{source_name}: not a readable XLSX workbook ({exc})") from None
    rows = []
    try:
        for worksheet in book.worksheets:
            name = worksheet.title.strip()
            if name == README_SHEET:
                continue
            sheet = name.lower()
            if sheet not in SHEETS:
                raise SheetFormatError(f"{source_name}: unknown sheet {name!r} (expected {', '.join(SHEETS)})")
            lines = worksheet.iter_rows(values_only=True)
            header = [text_of(v) for v in next(lines, ())]
            _checked_header(sheet, header, f"{source_name}, sheet {sheet!r}, row 1")
            for number, line in enumerate(lines, start=2):
                cells = list(line) + [None] * (len(header) - len(line))  # trailing empty cells may be left out
                values = {column: text_of(v) for column, v in zip(header, cells) if column}
                if any(values.values()):
                    rows.append(SheetRow(sheet, number, values))
    finally:
        book.close()
    return rows


def _csv_rows(data: bytes, source_name: str) -> list[SheetRow]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SheetFormatError(f"{source_name}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if "\x00" in text:
        raise SheetFormatError(f"{source_name}: contains a NUL character; not a text CSV")
    reader = csv.reader(io.StringIO(text))
    try:
        header = [name.strip() for name in next(reader, [])]
        if SHEET_COLUMN not in header:
            raise SheetFormatError(f"{source_name}, line 1: needs a {SHEET_COLUMN!r} column naming each row's sheet "
                                   f"({', '.join(SHEETS)})")
        known = {c for columns in SHEETS.values() for c in columns} | {SHEET_COLUMN}
        unknown = [name for name in header if name and name not in known]
        if unknown:
            raise SheetFormatError(f"{source_name}, line 1: unknown column {unknown[0]!r}")
        rows, checked = [], set()
        for line in reader:
            values = dict(zip(header, [text_of(v) for v in line] + [""] * (len(header) - len(line))))
            sheet = values.pop(SHEET_COLUMN, "").lower()
            if not any(values.values()) and not sheet:
                continue
            where = f"{source_name}, line {reader.line_num}"
            if sheet not in SHEETS:
                raise SheetFormatError(f"{where}, column 'sheet': {sheet!r} is not one of {', '.join(SHEETS)}")
            if sheet not in checked:
                _checked_header(sheet, [c for c in header if c in SHEETS[sheet]], where)
                checked.add(sheet)
            rows.append(SheetRow(sheet, reader.line_num, {k: v for k, v in values.items() if k in SHEETS[sheet]}))
    except csv.Error as exc:
        raise SheetFormatError(f"{source_name}, line {reader.line_num}: unreadable CSV ({exc})") from None
    return rows


def sheets_write(*, sheets: dict[str, list[list]], fmt: str) -> bytes:
    """The template with `sheets`' rows (lists in SHEETS' column order); a blank template when they are empty."""
    return _xlsx_write(sheets) if fmt == "xlsx" else _csv_write(sheets)


def _csv_write(sheets: dict[str, list[list]]) -> bytes:
    columns = [SHEET_COLUMN] + list(dict.fromkeys(c for names in SHEETS.values() for c in names))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for sheet, names in SHEETS.items():
        for row in sheets.get(sheet, ()):
            by_name = dict(zip(names, row))
            writer.writerow([sheet] + ["" if (v := cell(by_name.get(c))) is None else v for c in columns[1:]])
    return out.getvalue().encode("utf-8-sig")


def _xlsx_write(sheets: dict[str, list[list]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for sheet_name, names in SHEETS.items():
        sheet = book.create_sheet(title=sheet_name)
        sheet.freeze_panes = "A2"
        header = []
        for name in names:
            heading = WriteOnlyCell(sheet, value=name)
            heading.font = bold
            header.append(heading)
        sheet.append(header)
        for row in sheets.get(sheet_name, ()):
            sheet.append([_xlsx_cell(sheet, cell(value)) for value in row])
    readme = book.create_sheet(title=README_SHEET)
    for line in README_LINES:
        readme.append([line])
    return workbook_bytes(book)


def _xlsx_cell(sheet, value):
    if not isinstance(value, str):
        return value
    from openpyxl.cell import WriteOnlyCell

    text = WriteOnlyCell(sheet, value=value[:XLSX_CELL_LIMIT])
    text.data_type = "s"  # never a formula, whatever the text
    return text
