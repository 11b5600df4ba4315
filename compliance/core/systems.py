"""Systems: computers and electronic assemblies classified from the chips inside them.

ECCN 4A090 (87 FR 62186; split into .a/.b by 88 FR 73458) reaches "computers, 'electronic
assemblies' and 'components' containing integrated circuits, any of which meets or exceeds"
3A090.a (4A090.a) or 3A090.b (4A090.b).  An item that would otherwise be in one of the base
ECCNs of the .z paragraphs (3A001, 4A003, 4A004, 4A005, 5A002, 5A004, 5A992, 5D002, 5D992)
and meets those parameters is classified in that ECCN's .z paragraph instead, with the same
licence requirements (15 CFR 742.6(a)(6)(iii)).  The paragraph texts, the .z table and the
system catalog live in ``data/systems.yaml``, each row with its source and confidence.

A system is classified by its most capable chip: a chip the regime cannot decide makes the
system undetermined unless another chip inside already decides 4A090.a.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from pathlib import Path

import yaml

from .catalog import Chip, UnknownChip, chip as catalog_chip, normalize_name
from .classify import Classification, InsufficientSpec, classify
from .destinations import NOT_PUBLISHED, POLICY_ORDER, LicenseDetermination, determine_license

SYSTEMS_PATH = Path(__file__).parent / "data" / "systems.yaml"
CONFIDENCE = ("confirmed", "secondary", "unconfirmed")
FORMS = ("computer", "electronic assembly")
# Licence scope of 4A090 and the .z items: the 3A090 destination and headquarters rules apply.
SYSTEM_LICENCE_CITATION = "88 FR 73458, 15 CFR 742.6(a)(6)(iii) (3A090, 4A090 and .z items)"
_CHIP_RANK = {"3A090.a": 2, "3A090.b": 1}


class SystemDataError(ValueError):
    """The systems data file is malformed; the message names the file and the row."""


@dataclass(frozen=True)
class SystemParagraph:
    eccn: str
    follows: str
    effective: date
    text: str
    source: str
    confidence: str


@dataclass(frozen=True)
class ZParagraph:
    base: str
    eccn: str
    reaches: str
    effective: date
    source: str
    confidence: str


@dataclass(frozen=True)
class System:
    key: str
    model: str
    names: tuple[str, ...]
    vendor: str
    form: str
    gpus: tuple[tuple[str, int], ...]
    otherwise_eccn: str | None
    source: str
    confidence: str

    def components(self) -> tuple[tuple[Chip, int], ...]:
        return tuple((catalog_chip(key), count) for key, count in self.gpus)


@dataclass(frozen=True)
class SystemCatalog:
    paragraphs: tuple[SystemParagraph, ...]
    z_paragraphs: tuple[ZParagraph, ...]
    systems: tuple[System, ...]

    def find(self, name: str) -> System | None:
        """A system by key, model or any listed name (case and spacing ignored)."""
        wanted = normalize_name(name)
        for system in self.systems:
            if wanted in {normalize_name(n) for n in (system.key, system.model, *system.names)}:
                return system
        return None

    def z_for(self, base_eccn: str | None, as_of: date) -> ZParagraph | None:
        base = (base_eccn or "").split(".")[0]
        return next((z for z in self.z_paragraphs if z.base == base and z.effective <= as_of), None)

    def paragraph_following(self, chip_eccn: str, as_of: date) -> SystemParagraph | None:
        return next((p for p in self.paragraphs if p.follows == chip_eccn and p.effective <= as_of), None)


def _row_error(path: Path, section: str, index: int, message: str) -> SystemDataError:
    return SystemDataError(f"{path.name}: {section}[{index}]: {message}")


def _require(row: object, fields: tuple[str, ...], path: Path, section: str, index: int) -> dict:
    if not isinstance(row, dict):
        raise _row_error(path, section, index, "must be a mapping")
    missing = [name for name in fields if row.get(name) in (None, "")]
    if missing:
        raise _row_error(path, section, index, f"missing {', '.join(missing)}")
    if row["confidence"] not in CONFIDENCE:
        raise _row_error(path, section, index, f"confidence must be one of {', '.join(CONFIDENCE)}")
    if "effective" in fields and not isinstance(row["effective"], date):
        raise _row_error(path, section, index, "'effective' must be a date (YYYY-MM-DD)")
    return row


def load_systems(path: Path | str = SYSTEMS_PATH) -> SystemCatalog:
    """Read and validate the systems file; every system's chips must be in the chip catalog."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SystemDataError(f"{path.name}: unreadable: {exc}") from None
    if not isinstance(document, dict):
        raise SystemDataError(f"{path.name}: must be a mapping with paragraphs, z_paragraphs, systems")
    paragraphs = tuple(
        SystemParagraph(**{k: row[k] for k in ("eccn", "follows", "effective", "text", "source", "confidence")})
        for i, row in enumerate(document.get("paragraphs") or [])
        if _require(row, ("eccn", "follows", "effective", "text", "source", "confidence"), path, "paragraphs", i)
    )
    z_paragraphs = tuple(
        ZParagraph(**{k: row[k] for k in ("base", "eccn", "reaches", "effective", "source", "confidence")})
        for i, row in enumerate(document.get("z_paragraphs") or [])
        if _require(row, ("base", "eccn", "reaches", "effective", "source", "confidence"), path, "z_paragraphs", i)
    )
    systems = tuple(_system(row, path, i) for i, row in enumerate(document.get("systems") or []))
    keys = [s.key for s in systems]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise SystemDataError(f"{path.name}: systems: duplicate keys {', '.join(duplicated)}")
    return SystemCatalog(paragraphs, z_paragraphs, systems)


def _system(row: object, path: Path, index: int) -> System:
    fields = ("key", "model", "vendor", "form", "gpus", "source", "confidence")
    _require(row, fields, path, "systems", index)
    if row["form"] not in FORMS:
        raise _row_error(path, "systems", index, f"form must be one of {', '.join(FORMS)}")
    gpus = row["gpus"] if isinstance(row["gpus"], list) else [row["gpus"]]
    components = []
    for gpu in gpus:
        if not isinstance(gpu, dict) or not isinstance(gpu.get("count"), int) or gpu["count"] < 1:
            raise _row_error(path, "systems", index, "gpus needs a chip and a positive integer count")
        try:
            catalog_chip(str(gpu.get("chip")))
        except UnknownChip:
            raise _row_error(path, "systems", index, f"chip {gpu.get('chip')!r} is not in the chip catalog") from None
        components.append((gpu["chip"], gpu["count"]))
    return System(key=row["key"], model=row["model"], names=tuple(row.get("names") or ()), vendor=row["vendor"],
                  form=row["form"], gpus=tuple(components), otherwise_eccn=row.get("otherwise_eccn"),
                  source=row["source"], confidence=row["confidence"])


@cache
def default_systems() -> SystemCatalog:
    return load_systems()


def find_system(name: str) -> System | None:
    return default_systems().find(name)


@dataclass(frozen=True)
class Component:
    """One chip model inside a system and what 3A090 says about it (``undetermined``: what is missing)."""

    chip: str
    count: int
    classification: Classification | None
    undetermined: str | None = None

    def to_dict(self) -> dict:
        verdict = self.classification
        return {"chip": self.chip, "count": self.count,
                "eccn": verdict.eccn if verdict else None, "paragraph": verdict.paragraph if verdict else None,
                "undetermined": self.undetermined}


@dataclass(frozen=True)
class SystemClassification:
    eccn: str | None
    paragraph: str | None
    rule: str | None
    as_of: date
    form: str
    components: tuple[Component, ...]
    governing: Component | None
    reasons: tuple[str, ...]
    undetermined: str | None
    system: System | None = None

    @property
    def controlled(self) -> bool:
        return self.eccn is not None

    def to_dict(self) -> dict:
        system = self.system
        return {
            "eccn": self.eccn,
            "paragraph": self.paragraph,
            "rule": self.rule,
            "as_of": self.as_of.isoformat(),
            "form": self.form,
            "system": None if system is None else {
                "key": system.key, "model": system.model, "vendor": system.vendor,
                "source": system.source, "confidence": system.confidence},
            "components": [c.to_dict() for c in self.components],
            "governing_chip": self.governing.chip if self.governing else None,
            "reasons": list(self.reasons),
            "undetermined": self.undetermined,
        }


def classify_system(system: System, as_of: date) -> SystemClassification:
    """Classify a catalogued system on ``as_of``."""
    answer = classify_components(system.components(), as_of, form=system.form,
                                 otherwise_eccn=system.otherwise_eccn)
    reasons = (*answer.reasons, f"{system.model}: {_describe(system.gpus)} ({system.source}; {system.confidence})")
    return SystemClassification(**{**answer.__dict__, "reasons": reasons, "system": system})


def classify_components(components: Iterable[tuple[Chip, int]], as_of: date, *, form: str = "computer",
                        otherwise_eccn: str | None = None,
                        catalog: SystemCatalog | None = None) -> SystemClassification:
    """Classify a computer or assembly holding these chips (e.g. one inventoried host)."""
    systems = catalog or default_systems()
    counts: dict[str, int] = {}
    chips: dict[str, Chip] = {}
    for chip, count in components:
        counts[chip.key] = counts.get(chip.key, 0) + count
        chips[chip.key] = chip
    parts = []
    for key in sorted(counts):
        try:
            parts.append(Component(key, counts[key], classify(chips[key], as_of)))
        except InsufficientSpec as missing:
            parts.append(Component(key, counts[key], None, str(missing)))
    parts = tuple(parts)
    best = max((p for p in parts if p.classification is not None),
               key=lambda p: _CHIP_RANK.get(p.classification.eccn, 0), default=None)
    best_rank = _CHIP_RANK.get(best.classification.eccn, 0) if best else 0
    unknown = [p for p in parts if p.classification is None]
    rule = best.classification.rule if best else None
    if unknown and best_rank < _CHIP_RANK["3A090.a"]:
        missing = "; ".join(f"{p.chip}: {p.undetermined}" for p in unknown)
        return SystemClassification(
            None, "undetermined", rule, as_of, form, parts, None,
            (f"undetermined: whether an IC inside meets 3A090.a or .b decides 4A090 ({missing})",), missing)
    if not parts:
        return SystemClassification(None, None, rule, as_of, form, parts, None,
                                    ("no catalogued chips: nothing inside is known to meet 3A090",), None)
    paragraph = systems.paragraph_following(best.classification.eccn, as_of) if best_rank else None
    if paragraph is None:
        why = (f"no IC inside meets 3A090 on {as_of.isoformat()} ({_describe_parts(parts)}): not 4A090; "
               "the system's ECCN then follows its other functions, which this engine does not classify")
        return SystemClassification(None, None, rule, as_of, form, parts, best, (why,), None)
    reasons = [f"{best.count} x {best.chip} classified {best.classification.paragraph} -> {paragraph.eccn}: "
               f"{paragraph.text} ({paragraph.source}; {paragraph.confidence})"]
    eccn = paragraph.eccn
    z = systems.z_for(otherwise_eccn, as_of)
    if z is not None:
        eccn = z.eccn
        reasons.append(f"otherwise {otherwise_eccn}: {z.eccn} covers {z.reaches} ({z.source}; {z.confidence})")
    elif otherwise_eccn is None:
        reasons.append(f"if the {form} would otherwise be an encryption or other base-ECCN item (e.g. 5A992.c, "
                       f"5A002), it is classified in that ECCN's .z paragraph instead, with the same licence "
                       f"requirements ({SYSTEM_LICENCE_CITATION})")
    return SystemClassification(eccn, paragraph.eccn, rule, as_of, form, parts, best, tuple(reasons), None)


def _describe(gpus: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{count} x {key}" for key, count in gpus)


def _describe_parts(parts: Iterable[Component]) -> str:
    return ", ".join(f"{p.count} x {p.chip} {p.classification.paragraph or 'not 3A090'}" for p in parts)


def determine_system_license(classification: SystemClassification, *, destination: str, as_of: date,
                             **parties) -> LicenseDetermination:
    """The licence determination for a system: each chip model inside is determined at the
    destination, and the strictest requirement governs (4A090 and the .z items carry the 3A090
    destination and headquarters rules, 15 CFR 742.6(a)(6)(iii)).  ``parties`` are passed to
    ``determine_license`` (headquarters, ultimate_parent_hq, movement, ...).

    Undetermined (``license_required`` None) when no known chip inside requires a licence and
    the answer hangs on one the regime cannot classify, or on a fact a chip's determination lacks.
    """
    chips = [(part, determine_license(part.classification, destination=destination, as_of=as_of,
                                      prc_made=catalog_chip(part.chip).prc_made, **parties))
             for part in classification.components if part.classification is not None]
    required = [(part, found) for part, found in chips if found.license_required]
    open_ = [(part, found) for part, found in chips if found.license_required is None]
    if not required and classification.undetermined:
        return LicenseDetermination(None, None, None, (f"undetermined: {classification.undetermined}",), (),
                                    missing=tuple(p.chip for p in classification.components if p.undetermined))
    if not chips:
        return LicenseDetermination(False, None, None, ("no catalogued chips inside",), ())
    pool = required or open_ or chips
    governing = min(pool, key=lambda pair: POLICY_ORDER.index(pair[1].review_policy) if pair[1].review_policy
                    in POLICY_ORDER else len(POLICY_ORDER))[1]
    reasons, warnings = [], []
    if classification.eccn:
        reasons.append(f"{classification.eccn} {classification.form}: the licence requirements of the 3A090 "
                       f"ICs inside apply ({SYSTEM_LICENCE_CITATION})")
    for part, found in pool:
        reasons.extend(f"{part.count} x {part.chip} inside: {reason}" for reason in found.reasons)
        warnings.extend(found.warnings)
        if found.review_policy == NOT_PUBLISHED:
            warnings.append(f"the notice requiring a licence for {part.chip} is applied to the {classification.form} "
                            "holding it (unconfirmed: the notice's reach to systems containing the chip)")
    if required and classification.undetermined:
        warnings.append(f"another chip inside is undetermined ({classification.undetermined}); the licence "
                        "requirement stands on the chips that are known")
    return replace(governing, reasons=tuple(reasons), warnings=tuple(warnings))
