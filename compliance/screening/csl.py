"""Reading the US Consolidated Screening List (CSL) in its published CSV and JSON forms.

Both forms are parsed to the same `CslEntry` values, so one list imported from
either file yields identical rows.  Any problem raises `CslFormatError` naming the
row; nothing is half-read.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date

REQUIRED_CSV_COLUMNS = ("_id", "source", "name")
# What chipwatch stores (ListEntry column sizes); a longer value is a broken row.
MAX_LENGTHS = {"id": 80, "source": 200, "name": 500, "entity_number": 32, "type": 32}
MULTI_VALUE_SEPARATOR = ";"
# Organizations are screened against entities and untyped rows, not people or ships.
UNSCREENED_TYPES = frozenset({"individual", "vessel", "aircraft"})
_SOURCE_CODE = re.compile(r"\(([A-Z][A-Z0-9-]*)\)")


class CslFormatError(ValueError):
    def __init__(self, problem: str, *, row: int | None = None):
        self.row, self.problem = row, problem
        super().__init__(f"row {row}: {problem}" if row is not None else problem)


@dataclass(frozen=True)
class CslEntry:
    source_id: str
    source: str
    entity_number: str
    entry_type: str
    name: str
    alt_names: tuple[str, ...]
    addresses: tuple[tuple[str, str], ...]  # (address line, ISO country code or "")
    programs: tuple[str, ...]
    federal_register_notice: str
    start_date: date | None
    remarks: str
    source_list_url: str
    source_information_url: str
    license_requirement: str = ""  # Entity List entries: the entry's own columns, as published
    license_policy: str = ""

    @property
    def source_code(self) -> str:
        """The list's abbreviation as the CSL API uses it: EL, DPL, SDN, MEU, UVL…"""
        found = _SOURCE_CODE.search(self.source)
        return (found.group(1) if found else self.source)[:16]

    @property
    def countries(self) -> tuple[str, ...]:
        return tuple(sorted({country for _, country in self.addresses if country}))

    @property
    def screened(self) -> bool:
        return self.entry_type.casefold() not in UNSCREENED_TYPES


@dataclass(frozen=True)
class CslFile:
    format: str  # "csv" or "json"
    version: str  # "" when the file does not say
    entries: tuple[CslEntry, ...]


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _split(value) -> tuple[str, ...]:
    """CSV cells hold several values separated by ';', JSON holds lists."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else str(value).split(MULTI_VALUE_SEPARATOR)
    return tuple(text for text in (_text(item) for item in items) if text)


def _country_of_line(line: str) -> str:
    """A CSV address line ends with its ISO country code when the list knows one."""
    last = line.rsplit(",", 1)[-1].strip()
    return last.upper() if "," in line and len(last) == 2 and last.isalpha() else ""


def _address_from_json(row: int, address) -> tuple[str, str]:
    if not isinstance(address, dict):
        raise CslFormatError(f"addresses must hold objects, got {type(address).__name__}", row=row)
    country = _text(address.get("country")).upper()
    parts = [_text(address.get(key)) for key in ("address", "city", "state", "postal_code")] + [country]
    return ", ".join(p for p in parts if p), country


def _date(row: int, value) -> date | None:
    text = _text(value)
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise CslFormatError(f"start_date {text!r} is not a date (YYYY-MM-DD)", row=row) from None


def _refuse_nul(row: int, entry: CslEntry) -> CslEntry:
    """PostgreSQL text cannot hold NUL: refuse the row here rather than fail mid-import."""
    for name, value in vars(entry).items():
        values = value if isinstance(value, tuple) else (value,)
        flat = [v for item in values for v in (item if isinstance(item, tuple) else (item,))]
        if any(isinstance(v, str) and "\x00" in v for v in flat):
            raise CslFormatError(f"{name} contains a NUL character", row=row)
    return entry


def _entry(row: int, fields: dict, addresses: tuple[tuple[str, str], ...]) -> CslEntry:
    for required in ("id", "source", "name"):
        if not _text(fields.get(required)):
            raise CslFormatError(f"{required} is empty", row=row)
    for name, limit in MAX_LENGTHS.items():
        if len(_text(fields.get(name))) > limit:
            raise CslFormatError(f"{name} is longer than {limit} characters", row=row)
    return _refuse_nul(row, CslEntry(
        source_id=_text(fields["id"]), source=_text(fields["source"]), entity_number=_text(fields.get("entity_number")),
        entry_type=_text(fields.get("type")), name=_text(fields["name"]), alt_names=_split(fields.get("alt_names")),
        addresses=addresses, programs=_split(fields.get("programs")),
        federal_register_notice=_text(fields.get("federal_register_notice")),
        start_date=_date(row, fields.get("start_date")), remarks=_text(fields.get("remarks")),
        source_list_url=_text(fields.get("source_list_url")),
        source_information_url=_text(fields.get("source_information_url")),
        license_requirement=_text(fields.get("license_requirement")),
        license_policy=_text(fields.get("license_policy")),
    ))


def _parse_csv(text: str) -> tuple[str, list[tuple[int, CslEntry]]]:
    dialect = "excel-tab" if "\t" in text.split("\n", 1)[0] else "excel"
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect, restkey="\0extra")
    missing = [c for c in REQUIRED_CSV_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise CslFormatError(f"missing required column(s) {', '.join(missing)}", row=1)
    entries = []
    try:
        for record in reader:
            row = reader.line_num
            if "\0extra" in record or None in record.values():
                raise CslFormatError(f"expected {len(reader.fieldnames)} fields, got a different number", row=row)
            record["id"] = record.pop("_id")
            lines = _split(record.get("addresses"))
            entries.append((row, _entry(row, record, tuple((line, _country_of_line(line)) for line in lines))))
    except csv.Error as exc:
        raise CslFormatError(f"unreadable CSV ({exc})", row=reader.line_num) from None
    return "", entries


def _json_version(document: dict) -> str:
    """The newest date the file says its sources were updated (else imported), if it says any."""
    sources = [s for s in document.get("sources_used") or [] if isinstance(s, dict)]
    for key in ("source_last_updated", "last_imported"):
        stamps = [_text(s[key]) for s in sources if s.get(key)]
        if stamps:
            return max(stamps)
    return _text(document.get("version"))


def _parse_json(text: str) -> tuple[str, list[tuple[int, CslEntry]]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CslFormatError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise CslFormatError("JSON nested too deeply to be a screening list") from None
    results = document.get("results") if isinstance(document, dict) else document
    if not isinstance(results, list):
        raise CslFormatError('expected a list of entries or an object with "results"')
    entries = []
    for row, record in enumerate(results, start=1):
        if not isinstance(record, dict):
            raise CslFormatError(f"entry is a {type(record).__name__}, not an object", row=row)
        record = dict(record, id=record.get("id", record.get("_id")))
        addresses = tuple(_address_from_json(row, a) for a in record.get("addresses") or [])
        entries.append((row, _entry(row, record, addresses)))
    return (_json_version(document) if isinstance(document, dict) else ""), entries


def parse(data: bytes, *, file_name: str = "") -> CslFile:
    """Detect the format (extension first, then content) and parse the whole file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CslFormatError(f"not valid UTF-8 (byte {exc.start})") from None
    suffix = file_name.rsplit(".", 1)[-1].casefold() if "." in file_name else ""
    head = text.lstrip()[:1]
    if suffix == "json" or (suffix not in ("csv", "tsv") and head and head in "[{"):
        file_format, (version, rows) = "json", _parse_json(text)
    elif suffix in ("csv", "tsv") or text.split("\n", 1)[0].lstrip().startswith(REQUIRED_CSV_COLUMNS[0]):
        file_format, (version, rows) = "csv", _parse_csv(text)
    else:
        raise CslFormatError("unknown format: neither CSL JSON nor CSL CSV (expected a .json/.csv file)")
    first_row: dict[str, int] = {}
    for row, entry in rows:
        if first_row.setdefault(entry.source_id, row) != row:
            raise CslFormatError(f"duplicate id {entry.source_id!r} (first at row {first_row[entry.source_id]})",
                                 row=row)
    return CslFile(format=file_format, version=version, entries=tuple(entry for _, entry in rows))
