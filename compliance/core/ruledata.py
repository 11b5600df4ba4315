"""The facts that change every few months, as dated and sourced data: country-group memberships, Part 746
embargoes, is-informed notices and guidance (``data/country_groups.yaml``, ``embargoes.yaml``,
``notices.yaml``, ``guidance.yaml``).

Why data and not code: these facts change by the month, come from sources of unequal weight, and an officer
must be able to see for every answer which row it rests on.  Each row has a ``source`` (a tag of the file's
``sources`` table, resolved to its full text) and a ``confidence`` (confirmed / secondary / unconfirmed).  The
rule *logic* (thresholds, paragraphs) stays in ``regimes.py`` and ``destinations.py``.

Files are checked against ``data/rules.schema.json`` and then by explicit checks (dates in order, known groups,
sources and ids); a bad row raises ``RuleDataError`` naming the file and the row.

Public API (kept stable; other modules build on it)
    default_rule_data() -> RuleData                         cached; load_rule_data(directory) to test a copy
    RuleData.country(code) -> str                           ISO alpha-2 upper-cased, aliases applied (HK -> CN)
    RuleData.groups[name].members(as_of) -> frozenset[str]
    RuleData.in_any(code, group_names, as_of) -> bool
    RuleData.rows_naming(countries, as_of) / .embargoes_on(code, as_of) / .notices_on(as_of) / .guidance_by_id
    RuleData.variants(countries, as_of) -> ((Row, ...), RuleData) pairs: the data with the unconfirmed rows
        that concern these countries taken out (or, for one that ended, left running), one at a time and all
        together, so a caller can tell whether its answer rests on an unconfirmed row
    Row fields: file, index, start (None = before 2022-08-26), end (exclusive, None = open), source_tag,
        source, confidence, note; .active(as_of), .describe()
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache, cached_property
from pathlib import Path

import jsonschema
import yaml

DATA_DIR = Path(__file__).parent / "data"
SCHEMA_PATH = DATA_DIR / "rules.schema.json"
FILES = {
    "country_groups": "country_groups.yaml",
    "embargoes": "embargoes.yaml",
    "notices": "notices.yaml",
    "guidance": "guidance.yaml",
}
CONFIRMED, SECONDARY, UNCONFIRMED = "confirmed", "secondary", "unconfirmed"
_ISO_CODE = re.compile(r"^[A-Z]{2}$")


class RuleDataError(ValueError):
    """A rule data file is unreadable or has a bad row; the message names the file and the row."""


@dataclass(frozen=True, kw_only=True)
class Row:
    file: str
    index: int
    start: date | None
    end: date | None
    source_tag: str
    source: str
    confidence: str
    note: str | None

    def active(self, as_of: date) -> bool:
        return (self.start is None or self.start <= as_of) and (self.end is None or as_of < self.end)

    @property
    def unconfirmed(self) -> bool:
        return self.confidence == UNCONFIRMED

    @property
    def period(self) -> str:
        start = f"from {self.start.isoformat()}" if self.start else "in force before 2022-08-26"
        return start + (f" until {self.end.isoformat()}" if self.end else "")

    @property
    def subject(self) -> str:
        return f"{self.file} row {self.index + 1}"

    def describe(self) -> str:
        """The row as an answer cites it, with its confidence when it is not confirmed."""
        text = f"{self.subject_text} {self.period}"
        if self.confidence != CONFIRMED:
            text += f" ({self.confidence}: {self.note or self.source})"
        return text

    @property
    def subject_text(self) -> str:
        return self.subject


@dataclass(frozen=True, kw_only=True)
class Membership(Row):
    group: str
    countries: tuple[str, ...]

    @property
    def subject_text(self) -> str:
        return f"{', '.join(self.countries)} in Country Group {self.group}"


@dataclass(frozen=True, kw_only=True)
class Alias(Row):
    code: str
    country: str

    @property
    def subject_text(self) -> str:
        return f"{self.code} treated as {self.country}"


@dataclass(frozen=True, kw_only=True)
class Embargo(Row):
    country: str
    section: str
    title: str
    kind: str
    scope: str
    policy: str

    @property
    def subject_text(self) -> str:
        return f"{self.title} ({self.section})"


@dataclass(frozen=True)
class Reach:
    """'Any other circuits achieving the reference chip's ...': vendors and the figures compared."""

    vendors: tuple[str, ...]
    reference: str
    quantities: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Notice(Row):
    id: str
    title: str
    items: tuple[str, ...]
    systems_containing: bool
    reaches: Reach | None
    destinations: tuple[str, ...]
    exempt_groups: tuple[str, ...]
    hq_parties: bool

    @property
    def subject_text(self) -> str:
        return self.title

    def names(self, item: str | None, contained: Iterable[str] = ()) -> bool:
        """Is this catalog item named, or (for a system) does it contain a named chip?"""
        return item in self.items or (self.systems_containing and any(c in self.items for c in contained))


@dataclass(frozen=True, kw_only=True)
class Guidance(Row):
    id: str
    title: str
    applies: str
    text: str

    @property
    def subject_text(self) -> str:
        return self.title


@dataclass(frozen=True)
class CountryGroup:
    name: str
    title: str
    citation: str
    rows: tuple[Membership, ...]

    def members(self, as_of: date) -> frozenset[str]:
        return frozenset(code for row in self.rows if row.active(as_of) for code in row.countries)


@dataclass(frozen=True)
class RuleData:
    group_info: dict[str, tuple[str, str]]
    memberships: tuple[Membership, ...]
    aliases: tuple[Alias, ...]
    embargoes: tuple[Embargo, ...]
    notices: tuple[Notice, ...]
    guidance: tuple[Guidance, ...]
    sources: dict[str, dict[str, str]] = field(repr=False)

    # ------------------------------------------------------------------ lookups
    @cached_property
    def groups(self) -> dict[str, CountryGroup]:
        return {
            name: CountryGroup(name, title, citation, tuple(m for m in self.memberships if m.group == name))
            for name, (title, citation) in self.group_info.items()
        }

    @cached_property
    def _alias_map(self) -> dict[str, str]:
        return {alias.code: alias.country for alias in self.aliases}

    @cached_property
    def guidance_by_id(self) -> dict[str, Guidance]:
        return {row.id: row for row in self.guidance}

    def country(self, code: str) -> str:
        """ISO alpha-2, upper-cased, with EAR aliases applied (Hong Kong is China)."""
        normalized = code.strip().upper()
        if not _ISO_CODE.match(normalized):
            raise ValueError(f"not an ISO 3166-1 alpha-2 code: {code!r}")
        return self._alias_map.get(normalized, normalized)

    def in_any(self, code: str | None, group_names: Iterable[str], as_of: date) -> bool:
        """Is ``code`` a member of any of these groups on ``as_of``?  A name that is not a group is read
        as an ISO code (notices list single countries beside groups)."""
        if code is None:
            return False
        country = self.country(code)
        for name in group_names:
            group = self.groups.get(name)
            if country in (group.members(as_of) if group else {name}):
                return True
        return False

    def embargoes_on(self, code: str, as_of: date) -> tuple[Embargo, ...]:
        country = self.country(code)
        return tuple(e for e in self.embargoes if e.country == country and e.kind == "embargo" and e.active(as_of))

    def notices_on(self, as_of: date) -> tuple[Notice, ...]:
        return tuple(n for n in self.notices if n.active(as_of))

    def rows_naming(self, countries: Iterable[str | None], as_of: date | None = None) -> tuple[Row, ...]:
        """Membership, alias and embargo rows about these countries (active on ``as_of`` when given)."""
        codes = {self.country(c) for c in countries if c}
        raw = {c.strip().upper() for c in countries if c}
        rows = [m for m in self.memberships if codes & set(m.countries)]
        rows += [a for a in self.aliases if a.code in raw]
        rows += [e for e in self.embargoes if e.country in codes]
        return tuple(r for r in rows if as_of is None or r.active(as_of))

    # ------------------------------------------------------------------ what an answer rests on
    def variants(self, countries: Iterable[str | None], as_of: date) -> list[tuple[tuple[Row, ...], RuleData]]:
        """The data with each unconfirmed row that could bear on these countries on ``as_of`` reverted (an
        active row taken out; a row that has ended left running, as its end is what is unconfirmed), one
        at a time and, when there are several, all together.  Only a membership's end is taken as doubtful;
        a notice or embargo that ended is not revived."""
        countries = tuple(countries)
        candidates = [row for row in (*self.rows_naming(countries), *self.notices) if row.unconfirmed]
        reverts = []
        for row in candidates:
            if row.active(as_of):
                reverts.append((row, None))
            elif isinstance(row, Membership) and row.end is not None and as_of >= row.end:
                reverts.append((row, replace(row, end=None)))
        out = [((row,), self._reverted({row.subject: new})) for row, new in reverts]
        if len(reverts) > 1:
            out.append((tuple(row for row, _ in reverts), self._reverted({row.subject: new for row, new in reverts})))
        return out

    def _reverted(self, changes: dict[str, Row | None]) -> RuleData:
        def apply(rows):
            kept = (changes.get(row.subject, row) for row in rows)
            return tuple(row for row in kept if row is not None)

        return RuleData(self.group_info, apply(self.memberships), apply(self.aliases), apply(self.embargoes),
                        apply(self.notices), apply(self.guidance), self.sources)


# ---------------------------------------------------------------------- loading


@cache
def default_rule_data() -> RuleData:
    return load_rule_data(DATA_DIR)


@cache
def _schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def load_rule_data(directory: Path | str = DATA_DIR) -> RuleData:
    """Read and check the four rule data files in ``directory``; raise RuleDataError naming file and row."""
    directory = Path(directory)
    docs = {kind: _read(directory / name, kind) for kind, name in FILES.items()}
    groups_doc = docs["country_groups"]
    group_info = {name: (g["title"], g["citation"]) for name, g in groups_doc["groups"].items()}
    data = RuleData(
        group_info=group_info,
        memberships=tuple(_rows(groups_doc, "memberships", FILES["country_groups"], _membership)),
        aliases=tuple(_rows(groups_doc, "aliases", FILES["country_groups"], _alias)),
        embargoes=tuple(_rows(docs["embargoes"], "embargoes", FILES["embargoes"], _embargo)),
        notices=tuple(_rows(docs["notices"], "notices", FILES["notices"], _notice)),
        guidance=tuple(_rows(docs["guidance"], "guidance", FILES["guidance"], _guidance)),
        sources={kind: dict(doc["sources"]) for kind, doc in docs.items()},
    )
    _check_references(data)
    return data


class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: dates stay text until ``_date`` parses them, so a bad date
    is reported with its row instead of failing the whole file."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read(path: Path, kind: str) -> dict:
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - a SafeLoader
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RuleDataError(f"{path.name}: cannot read: {exc}") from exc
    except RecursionError:
        raise RuleDataError(f"{path.name}: cannot read: nested too deeply") from None
    schema = {"$ref": f"#/$defs/{kind}_file", "$defs": _schema()["$defs"]}
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(_as_json(document)),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        error = errors[0]
        raise RuleDataError(f"{path.name}: {_where(error.absolute_path, document)}: {error.message}")
    return document


def _as_json(value):
    """YAML dates become ISO strings so the schema can check them like any JSON document."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    return value


def _where(path, document) -> str:
    parts = list(path)
    if len(parts) >= 2 and isinstance(parts[1], int):
        row = document[parts[0]][parts[1]]
        hint = next((str(row[k]) for k in ("id", "group", "country", "code") if isinstance(row, dict) and k in row), "")
        rest = "/".join(map(str, parts[2:]))
        return f"{parts[0]} row {parts[1] + 1}" + (f" ({hint})" if hint else "") + (f", {rest}" if rest else "")
    return "/".join(map(str, parts)) or "document"


def _rows(document: dict, section: str, file: str, build) -> Iterator[Row]:
    sources = document["sources"]
    for index, raw in enumerate(document.get(section) or ()):
        where = f"{file}: {section} row {index + 1}"
        if raw["source"] not in sources:
            raise RuleDataError(f"{where}: source {raw['source']!r} is not in the file's sources table")
        start, end = _date(raw.get("from", raw.get("date")), where), _date(raw.get("until"), where)
        if start and end and end <= start:
            raise RuleDataError(f"{where}: 'until' {end} is not after 'from' {start}")
        common = dict(file=file, index=index, start=start, end=end, source_tag=raw["source"],
                      source=sources[raw["source"]], confidence=raw["confidence"], note=raw.get("note"))
        yield build(raw, common)


def _date(value, where: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise RuleDataError(f"{where}: {value!r} is not a date") from None


def _membership(raw: dict, common: dict) -> Membership:
    return Membership(group=raw["group"], countries=tuple(raw["countries"]), **common)


def _alias(raw: dict, common: dict) -> Alias:
    return Alias(code=raw["code"], country=raw["country"], **common)


def _embargo(raw: dict, common: dict) -> Embargo:
    return Embargo(country=raw["country"], section=raw["section"], title=raw["title"],
                   kind=raw.get("kind", "embargo"), scope=raw["scope"], policy=raw["policy"], **common)


def _notice(raw: dict, common: dict) -> Notice:
    reach = raw.get("reaches")
    return Notice(
        id=raw["id"], title=raw["title"], items=tuple(raw["items"]),
        systems_containing=raw.get("systems_containing", False),
        reaches=Reach(tuple(reach["vendors"]), reach["reference"], tuple(reach["quantities"])) if reach else None,
        destinations=tuple(raw["destinations"]), exempt_groups=tuple(raw.get("exempt_groups", ())),
        hq_parties=raw.get("hq_parties", False), **common)


def _guidance(raw: dict, common: dict) -> Guidance:
    return Guidance(id=raw["id"], title=raw["title"], applies=raw["applies"], text=raw["text"], **common)


def _check_references(data: RuleData) -> None:
    for row in data.memberships:
        if row.group not in data.group_info:
            raise RuleDataError(f"{row.subject}: group {row.group!r} is not declared under 'groups'")
    for rows in (data.notices, data.guidance):
        seen = set()
        for row in rows:
            if row.id in seen:
                raise RuleDataError(f"{row.subject}: id {row.id!r} used twice")
            seen.add(row.id)
    for row in data.notices:
        for name in (*row.destinations, *row.exempt_groups):
            if name not in data.group_info and not _ISO_CODE.match(name):
                raise RuleDataError(f"{row.subject} ({row.id}): {name!r} is neither a group nor an ISO code")
