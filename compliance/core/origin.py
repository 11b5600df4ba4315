"""Where an item comes from, and so whether the EAR reaches it at all.

A chip designed by a US company is subject to the EAR (15 CFR 734.3(a)); a die fabricated abroad
from US technology is reached by the foreign direct product (FDP) rules as well.  A chip made
abroad by a foreign company (Huawei's Ascend, made by SMIC) is subject only if a rule reaches it:
the advanced-computing FDP rule of 15 CFR 734.9(h), the Entity List FDP rules of 734.9(e) when a
footnoted entity is involved, or the de minimis rule of 734.4 (not evaluated here).  For such a
chip the answer is undetermined, naming the paragraphs that could make it subject and the fact
that decides, instead of classifying it as if it were US-origin.  Data: ``data/origins.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import yaml

from .catalog import Chip
from .classify import Classification

ORIGINS_PATH = Path(__file__).parent / "data" / "origins.yaml"
CONFIDENCE = ("confirmed", "secondary", "unconfirmed")
SUBJECTS = ("us_origin", "foreign")
US_ORIGIN_CITATION = "15 CFR 734.3(a)"
DE_MINIMIS = "US-content de minimis (15 CFR 734.4) is not evaluated"


class OriginDataError(ValueError):
    """The origins data file is malformed; the message names the file and the row."""


@dataclass(frozen=True)
class Origin:
    subject: str
    made_in: str
    source: str
    confidence: str
    producer_footnote: int | None = None


@dataclass(frozen=True)
class FdpPath:
    paragraph: str
    title: str
    effective: date
    applies_when: str
    deciding_fact: str
    needs_party_footnote: int | None
    source: str
    confidence: str


@dataclass(frozen=True)
class OriginData:
    vendors: dict[str, Origin]
    chips: dict[str, Origin]
    fdp_paths: tuple[FdpPath, ...]

    def origin(self, chip: Chip) -> Origin | None:
        return self.chips.get(chip.key) or self.vendors.get(chip.vendor)


def _origin(row: object, path: Path, where: str) -> Origin:
    if not isinstance(row, dict):
        raise OriginDataError(f"{path.name}: {where}: must be a mapping")
    missing = [k for k in ("subject", "made_in", "source", "confidence") if not row.get(k)]
    if missing:
        raise OriginDataError(f"{path.name}: {where}: missing {', '.join(missing)}")
    if row["subject"] not in SUBJECTS:
        raise OriginDataError(f"{path.name}: {where}: subject must be one of {', '.join(SUBJECTS)}")
    if row["confidence"] not in CONFIDENCE:
        raise OriginDataError(f"{path.name}: {where}: confidence must be one of {', '.join(CONFIDENCE)}")
    return Origin(row["subject"], row["made_in"], row["source"], row["confidence"], row.get("producer_footnote"))


def load_origins(path: Path | str = ORIGINS_PATH) -> OriginData:
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise OriginDataError(f"{path.name}: unreadable: {exc}") from None
    if not isinstance(document, dict):
        raise OriginDataError(f"{path.name}: must be a mapping with vendors, chips, fdp_paths")
    vendors = {row.get("vendor"): _origin(row, path, f"vendors[{i}]") for i, row in enumerate(document.get("vendors") or [])}
    chips = {row.get("chip"): _origin(row, path, f"chips[{i}]") for i, row in enumerate(document.get("chips") or [])}
    paths = []
    for i, row in enumerate(document.get("fdp_paths") or []):
        fields = [k for k in FdpPath.__dataclass_fields__ if k != "needs_party_footnote"]
        missing = [k for k in fields if not isinstance(row, dict) or not row.get(k)]
        if missing:
            raise OriginDataError(f"{path.name}: fdp_paths[{i}]: missing {', '.join(missing)}")
        if not isinstance(row["effective"], date):
            raise OriginDataError(f"{path.name}: fdp_paths[{i}]: 'effective' must be a date (YYYY-MM-DD)")
        paths.append(FdpPath(**{k: row.get(k) for k in FdpPath.__dataclass_fields__}))
    return OriginData(vendors, chips, tuple(paths))


@cache
def default_origins() -> OriginData:
    return load_origins()


@dataclass(frozen=True)
class Jurisdiction:
    """Whether the EAR reaches the item.  ``subject_to_ear`` None: undetermined; ``paths`` are the
    FDP paragraphs that could make it subject on these facts, each with why; ``deciding_facts``
    what would settle it."""

    subject_to_ear: bool | None
    basis: str
    paths: tuple[tuple[FdpPath, str], ...] = ()
    deciding_facts: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"subject_to_ear": self.subject_to_ear, "basis": self.basis,
                "fdp_paths": [{"paragraph": p.paragraph, "title": p.title, "why": why, "applies_when": p.applies_when,
                               "source": p.source, "confidence": p.confidence} for p, why in self.paths],
                "deciding_facts": list(self.deciding_facts)}


def jurisdiction(chip: Chip, classification: Classification, *, as_of: date, needs_licence_if_subject: bool | None,
                 party_footnotes: Iterable[int] = (), data: OriginData | None = None) -> Jurisdiction:
    """Is this catalogued chip subject to the EAR on ``as_of``?  ``needs_licence_if_subject`` is the
    determination's answer were it subject (734.9(h) borrows the 742.6(a)(6) destination and party
    scope); ``party_footnotes`` the Entity List footnotes of the parties involved."""
    data = data or default_origins()
    origin = data.origin(chip)
    if origin is None:
        return Jurisdiction(None, f"undetermined: where {chip.vendor}'s {chip.model} is made is not on record",
                            deciding_facts=("the country and company that designed and produced the chip",))
    if origin.subject == "us_origin":
        return Jurisdiction(True, f"US-origin item, subject to the EAR ({US_ORIGIN_CITATION}): {origin.made_in} "
                                  f"({origin.source}; {origin.confidence})")
    footnotes = set(party_footnotes)
    paths = []
    for path in data.fdp_paths:
        if path.effective > as_of:
            continue
        if path.needs_party_footnote is None:
            if classification.eccn not in ("3A090.a", "3A090.b"):
                continue  # product scope: the 3A090/4A090 parameters
            if needs_licence_if_subject is False:
                continue  # destination and party scope borrowed from 742.6(a)(6)
            why = (f"meets {classification.paragraph} parameters and "
                   + ("the destination or a party is within the advanced-computing licence scope"
                      if needs_licence_if_subject else "the destination and party scope is itself undetermined"))
        elif path.needs_party_footnote in footnotes:
            why = f"a footnote {path.needs_party_footnote} Entity List party is involved"
        elif path.needs_party_footnote == origin.producer_footnote:
            why = f"the chip's producer is itself a footnote {path.needs_party_footnote} Entity List party"
        else:
            continue
        paths.append((path, why))
    deciding = tuple(dict.fromkeys(p.deciding_fact for p, _ in paths)) + (DE_MINIMIS,)
    reach = ", ".join(p.paragraph for p, _ in paths) or "no foreign direct product rule on these facts"
    return Jurisdiction(
        None,
        f"undetermined: a foreign-made chip ({origin.made_in}; {origin.source}; {origin.confidence}) is subject to "
        f"the EAR only if a rule reaches it: {reach}",
        tuple(paths), deciding)
