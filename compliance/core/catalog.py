"""Chip catalog: what each accelerator is, where every number comes from, and the two
quantities ECCN 3A090 derives from it (TPP and performance density).

The data lives in ``data/chips.yaml`` and is checked against ``data/chips.schema.json`` on
load, so a bad entry fails loudly with the entry and field named instead of skewing a
classification later.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType

import jsonschema
import yaml

DATA_DIR = Path(__file__).parent / "data"
CATALOG_PATH = DATA_DIR / "chips.yaml"
SCHEMA_PATH = DATA_DIR / "chips.schema.json"

# 'Bit length of the operation' per precision, for TPP (88 FR 73458, 3A090 Technical Note 1).
# TF32 operands are 32-bit registers; with the 2x MAC rule TF32 never exceeds FP16, so the
# choice cannot move a TPP.
PRECISION_BITS: Mapping[str, int] = MappingProxyType(
    {"fp64": 64, "fp32": 32, "tf32": 32, "fp16": 16, "fp8": 8, "int8": 8, "fp6": 6, "fp4": 4, "int4": 4}
)

NVIDIA_PCI_VENDOR_ID = 0x10DE


class CatalogError(ValueError):
    """The catalog file is unreadable or violates its schema."""


class UnknownChip(KeyError):
    """No catalog entry has this key."""


@dataclass(frozen=True)
class Provenance:
    """Where a catalog value comes from; ``confirmed=False`` values carry a note saying why."""

    source: str
    confirmed: bool = True
    note: str | None = None


@dataclass(frozen=True)
class Die:
    name: str
    count: int
    process: str | None
    nonplanar: bool
    area_mm2: float | None


@dataclass(frozen=True)
class TppBasis:
    """The precision that sets a chip's TPP: ``tpp = rate_tops * bits``."""

    precision: str
    rate_tops: float
    bits: int

    @property
    def tpp(self) -> float:
        return self.rate_tops * self.bits


@dataclass(frozen=True, eq=False)
class Chip:
    """One catalog entry.  Rates are dense, per package, in TFLOPS/TOPS; bandwidths in GB/s."""

    key: str
    vendor: str
    model: str
    architecture: str
    datacenter: bool
    prc_made: bool
    nvml_names: tuple[str, ...]
    pci_vendor_id: int | None
    pci_device_ids: tuple[int, ...]
    dies: tuple[Die, ...]
    sm_count: int | None
    memory_type: str | None
    memory_gb: float | None
    memory_bandwidth: float | None
    rates: Mapping[str, float]
    interconnect_kind: str | None
    interconnect_generation: int | None
    interconnect_links: int | None
    interconnect_bandwidth: float | None
    host_bandwidth: float | None
    max_clock_mhz: float | None
    tdp_w: float | None
    published_tpp: float | None
    note: str | None
    provenance: Mapping[str, Provenance] = field(repr=False)
    aliases: tuple[str, ...] = ()

    @property
    def tpp_basis(self) -> TppBasis | None:
        """TPP = max over precisions of dense rate x bit length (88 FR 73458, 3A090 TN 1 and TN 3)."""
        candidates = [TppBasis(p, rate, PRECISION_BITS[p]) for p, rate in self.rates.items()]
        return max(candidates, key=lambda basis: basis.tpp, default=None)

    @property
    def tpp(self) -> float | None:
        basis = self.tpp_basis
        return None if basis is None else basis.tpp

    @property
    def applicable_die_area(self) -> float | None:
        """All logic die area on a non-planar process (88 FR 73458, 3A090 TN 4); None if any is unknown."""
        counted = [die for die in self.dies if die.nonplanar]
        if not counted or any(die.area_mm2 is None for die in counted):
            return None
        return sum(die.count * die.area_mm2 for die in counted)

    @property
    def performance_density(self) -> float | None:
        """'TPP' divided by 'applicable die area' (88 FR 73458, 3A090 TN 4)."""
        if self.tpp is None or self.applicable_die_area is None:
            return None
        return self.tpp / self.applicable_die_area

    @property
    def io_bandwidth(self) -> float | None:
        """Aggregate bidirectional rate over all inputs and outputs to ICs other than volatile
        memory (87 FR 62186, 3A090.a): chip-to-chip links plus the host link, which is an IC too.
        """
        if self.interconnect_bandwidth is None or self.host_bandwidth is None:
            return None
        return self.interconnect_bandwidth + self.host_bandwidth

    def unconfirmed(self) -> dict[str, str]:
        """Field path -> note, for every value the sources do not confirm."""
        return {path: p.note or "" for path, p in self.provenance.items() if not p.confirmed}


class Catalog:
    """The loaded catalog with its lookups (by key, NVML name, PCI id)."""

    def __init__(self, chips: tuple[Chip, ...], sources: Mapping[str, str]):
        self.chips = chips
        self.sources = MappingProxyType(dict(sources))
        self._by_key = {chip.key: chip for chip in chips}
        self._by_name = {normalize_name(name): chip for chip in chips for name in chip.nvml_names}
        self._by_alias = {normalize_name(name): chip for chip in chips for name in (chip.key, *chip.aliases)}

    def __iter__(self) -> Iterator[Chip]:
        return iter(self.chips)

    def __len__(self) -> int:
        return len(self.chips)

    def get(self, key: str) -> Chip:
        try:
            return self._by_key[key]
        except KeyError:
            raise UnknownChip(f"no catalog entry {key!r}") from None

    def by_nvml_name(self, name: str) -> Chip | None:
        """Match any name NVML is known to report, ignoring case and runs of whitespace."""
        return self._by_name.get(normalize_name(name))

    def lookup(self, name: str) -> Chip | None:
        """A chip by key, NVML name or a short name people use ('H100', 'NVIDIA H100', 'MI308X'),
        ignoring case, runs of whitespace and a leading vendor name."""
        wanted = normalize_name(name)
        for candidate in (wanted, _without_vendor(wanted)):
            found = self._by_name.get(candidate) or self._by_alias.get(candidate)
            if found is not None:
                return found
        return None

    def near(self, name: str, limit: int = 5) -> list[str]:
        """Catalog names close to ``name``, for a 'did you mean' on a miss."""
        names = {normalize_name(n): n for chip in self.chips for n in (chip.key, *chip.aliases, *chip.nvml_names)}
        close = difflib.get_close_matches(_without_vendor(normalize_name(name)), list(names), n=limit, cutoff=0.5)
        return [names[n] for n in close]

    def by_pci_id(self, pci_id: int | str) -> tuple[Chip, ...]:
        """Every chip with this device id.  Several variants can share an id, so all candidates
        are returned (in catalog order) rather than a guess; a vendor id narrows the match.
        """
        vendor_id, device_id = parse_pci_id(pci_id)
        return tuple(
            chip
            for chip in self.chips
            if device_id in chip.pci_device_ids and vendor_id in (None, chip.pci_vendor_id)
        )


def normalize_name(name: str) -> str:
    return " ".join(name.split()).casefold()


_VENDOR_PREFIX = re.compile(r"^(nvidia|amd|intel|habana|huawei)\s+")


def _without_vendor(name: str) -> str:
    return _VENDOR_PREFIX.sub("", name)


_VENDOR_DEVICE = re.compile(r"^(?:0x)?([0-9a-f]{1,4}):(?:0x)?([0-9a-f]{1,4})$")


def parse_pci_id(pci_id: int | str) -> tuple[int | None, int]:
    """Return ``(vendor_id or None, device_id)`` from any of the forms agents send.

    Accepts a 16-bit device id (``0x2330``, ``"0x2330"``, ``"2330"``), ``"10de:2330"``, and
    NVML's 32-bit ``pciDeviceId`` (``0x233010DE`` = device << 16 | vendor).
    """
    if isinstance(pci_id, str):
        text = pci_id.strip().lower()
        pair = _VENDOR_DEVICE.match(text)
        if pair:
            return int(pair.group(1), 16), int(pair.group(2), 16)
        try:
            value = int(text, 16)
        except ValueError:
            raise ValueError(f"not a PCI id: {pci_id!r}") from None
    elif isinstance(pci_id, int) and not isinstance(pci_id, bool):
        value = pci_id
    else:
        raise TypeError(f"PCI id must be int or str, not {type(pci_id).__name__}")
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"PCI id out of range: {pci_id!r}")
    if value > 0xFFFF:
        return value & 0xFFFF, value >> 16
    return None, value


# --------------------------------------------------------------------------- loading


def load_catalog(path: Path | str = CATALOG_PATH) -> Catalog:
    """Read, schema-check and build a catalog; raise CatalogError naming entry and field."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path.name}: cannot read catalog: {exc}") from exc
    except RecursionError:
        raise CatalogError(f"{path.name}: cannot read catalog: nested too deeply") from None
    _check_schema(document, path.name)
    _check_references(document, path.name)
    chips = tuple(_build_chip(entry) for entry in document["chips"])
    return Catalog(chips, document["sources"])


@cache
def _schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _check_schema(document: object, filename: str) -> None:
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        raise CatalogError(
            f"{filename}: {len(errors)} schema error(s):\n"
            + "\n".join(_describe(document, error) for error in errors)
        )


def _describe(document: object, error: jsonschema.ValidationError) -> str:
    path = list(error.absolute_path)
    if len(path) >= 2 and path[0] == "chips" and isinstance(document, dict):
        entry = document["chips"][path[1]]
        name = entry.get("key", f"#{path[1]}") if isinstance(entry, dict) else f"#{path[1]}"
        field = ".".join(str(p) for p in path[2:]) or "(entry)"
        return f"  chip {name!r} field {field!r}: {error.message}"
    return f"  {'.'.join(str(p) for p in path) or '(document)'}: {error.message}"


def _check_references(document: dict, filename: str) -> None:
    """Checks a JSON schema cannot express: unique keys and names, known source tags."""
    problems: list[str] = []
    seen_keys: set[str] = set()
    seen_names: dict[str, str] = {}
    seen_aliases: dict[str, str] = {}
    for entry in document["chips"]:
        key = entry["key"]
        if key in seen_keys:
            problems.append(f"  chip {key!r} field 'key': duplicate key")
        seen_keys.add(key)
        for name in entry["nvml_names"]["value"]:
            other = seen_names.setdefault(normalize_name(name), key)
            if other != key:
                problems.append(f"  chip {key!r} field 'nvml_names': {name!r} already belongs to {other!r}")
        for name in (key, *entry.get("aliases", ())):
            other = seen_aliases.setdefault(normalize_name(name), key)
            if other != key:
                problems.append(f"  chip {key!r} field 'aliases': {name!r} already names {other!r}")
        for field, fact in _facts(entry):
            if fact["source"] not in document["sources"]:
                problems.append(f"  chip {key!r} field {field!r}: unknown source {fact['source']!r}")
    if problems:
        raise CatalogError(f"{filename}: {len(problems)} error(s):\n" + "\n".join(problems))


def _facts(entry: dict) -> Iterator[tuple[str, dict]]:
    """Every {value, source, ...} mapping in an entry, with its dotted field path."""

    def walk(node: object, path: str) -> Iterator[tuple[str, dict]]:
        if isinstance(node, dict):
            if "source" in node and "value" in node:
                yield path, node
                return
            for name, child in node.items():
                yield from walk(child, f"{path}.{name}" if path else name)
        elif isinstance(node, list):
            for index, child in enumerate(node):
                yield from walk(child, f"{path}[{index}]")

    yield from walk(entry, "")


def _build_chip(entry: dict) -> Chip:
    def value(fact: dict | None):
        return None if fact is None else fact["value"]

    memory = entry.get("memory", {})
    interconnect = entry.get("interconnect", {})
    rates = {p: fact["value"] for p, fact in entry.get("rates", {}).items() if fact["value"] is not None}
    provenance = {
        field: Provenance(fact["source"], fact.get("confirmed", True), fact.get("note"))
        for field, fact in _facts(entry)
    }
    return Chip(
        key=entry["key"],
        vendor=entry["vendor"],
        model=entry["model"],
        architecture=entry["architecture"],
        datacenter=entry["datacenter"]["value"],
        prc_made=bool(value(entry.get("prc_made"))),
        nvml_names=tuple(entry["nvml_names"]["value"]),
        aliases=tuple(entry.get("aliases", ())),
        pci_vendor_id=entry.get("pci_vendor_id"),
        pci_device_ids=tuple(entry["pci_device_ids"]["value"]),
        dies=tuple(
            Die(d["name"], d["count"], d.get("process"), d["nonplanar"], d["area_mm2"]["value"])
            for d in entry["dies"]
        ),
        sm_count=value(entry.get("sm_count")),
        memory_type=memory.get("type"),
        memory_gb=value(memory.get("size_gb")),
        memory_bandwidth=value(memory.get("bandwidth_gbps")),
        rates=MappingProxyType(rates),
        interconnect_kind=interconnect.get("kind"),
        interconnect_generation=interconnect.get("generation"),
        interconnect_links=value(interconnect.get("links")),
        interconnect_bandwidth=value(interconnect.get("bandwidth_gbps")),
        host_bandwidth=value(entry.get("host_bandwidth_gbps")),
        max_clock_mhz=value(entry.get("max_clock_mhz")),
        tdp_w=value(entry.get("tdp_w")),
        published_tpp=value(entry.get("published_tpp")),
        note=entry.get("note"),
        provenance=MappingProxyType(provenance),
    )


# --------------------------------------------------------------------------- default catalog


@cache
def default_catalog() -> Catalog:
    return load_catalog()


def chip(key: str) -> Chip:
    return default_catalog().get(key)


def find_by_nvml_name(name: str) -> Chip | None:
    return default_catalog().by_nvml_name(name)


def find_by_pci_id(pci_id: int | str) -> tuple[Chip, ...]:
    return default_catalog().by_pci_id(pci_id)


# The H100-equivalent divisor: the published TPP of the H100 SXM (the value AI Diffusion's
# caps and LPP are expressed in, 90 FR 4544); its computed TPP from the catalog rates is 15,831.2.
H100_TPP: int = int(chip("h100-sxm").published_tpp)
