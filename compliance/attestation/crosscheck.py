"""Attested facts against what NVML reported for the same GPU.  Pure (no Django).

What can disagree: the die family (the certificate chain names it; the catalog gives the die of the reported
model), the VBIOS and driver versions (signed in the report; NVML reports them too), and the SKU where the signed
board identity is in a documented board table.  A disagreement means the NVML answers are not the GPU's own:
a forged or patched NVML, or evidence relayed from another GPU.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from compliance.core.catalog import UnknownChip, chip as catalog_chip
from compliance.identify import identify

DEFAULT_BOARDS = Path(__file__).parent / "data" / "board_identities.yaml"


class BoardTableError(ValueError):
    pass


@dataclass(frozen=True)
class Reported:
    name: str
    pci_device_id: int | None
    vbios_version: str
    driver_version: str


@dataclass(frozen=True)
class Fact:
    fact: str
    reported: str | None
    attested: str | None
    provenance: str  # "attested" when the signed evidence settles it, else "reported"
    agrees: bool | None  # None: nothing to compare
    basis: str


def load_boards(path: Path | str = DEFAULT_BOARDS) -> dict[tuple[str, str, str], dict]:
    """(project, project_sku, chip_sku) → {chip, source}; an entry without a source or with an unknown chip raises."""
    document = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    table = {}
    for entry in document.get("boards") or []:
        key = (str(entry.get("project", "")), str(entry.get("project_sku", "")), str(entry.get("chip_sku", "")))
        if not all(key) or not entry.get("source") or not entry.get("chip"):
            raise BoardTableError(f"{path}: board entry {entry!r} needs project, project_sku, chip_sku, chip, source")
        try:
            catalog_chip(entry["chip"])
        except UnknownChip as exc:
            raise BoardTableError(f"{path}: board entry {key} names unknown chip {entry['chip']!r}") from exc
        table[key] = {"chip": entry["chip"], "source": entry["source"]}
    return table


def _same_version(reported: str, attested: str | None) -> bool | None:
    if not reported or not attested:
        return None
    return reported.strip().upper() == attested.strip().upper()


def cross_check(*, chip: str | None, binds: dict, reported: Reported, boards: dict) -> dict:
    """{"facts": [...], "mismatches": [fact names], "sku": {...}} for one verified record."""
    match = identify(pci_device_id=reported.pci_device_id, name=reported.name)
    reported_chip = match.chip
    reported_die = reported_chip.dies[0].name if reported_chip and reported_chip.dies else None
    facts = [
        Fact("chip_family", reported_die, chip, "attested" if chip else "reported",
             None if not (reported_die and chip) else reported_die == chip,
             f"certificate chain subject; reported die from the catalog entry for {reported.name!r} ({match.basis})"),
        Fact("vbios_version", reported.vbios_version or None, binds.get("vbios_version"), "attested",
             _same_version(reported.vbios_version, binds.get("vbios_version")), "signed OpaqueData VBIOS_VERSION"),
        Fact("driver_version", reported.driver_version or None, binds.get("driver_version"), "attested",
             _same_version(reported.driver_version, binds.get("driver_version")), "signed OpaqueData DRIVER_VERSION"),
    ]
    board = (binds.get("project") or "", binds.get("project_sku") or "", binds.get("chip_sku") or "")
    entry = boards.get(board)
    board_text = "/".join(board)
    if entry is None:
        sku = {"value": reported_chip.key if reported_chip else None, "provenance": "reported",
               "basis": f"board {board_text} is attested but not in the board table: the SKU is NVML's claim "
                        "(H100, H800 and H20 share the GH100 die)"}
        facts.append(Fact("sku", sku["value"], None, "reported", None, sku["basis"]))
    else:
        sku = {"value": entry["chip"], "provenance": "attested",
               "basis": f"signed board identity {board_text} is {entry['chip']} per {entry['source']}"}
        facts.append(Fact("sku", reported_chip.key if reported_chip else None, entry["chip"], "attested",
                          None if reported_chip is None else reported_chip.key == entry["chip"], sku["basis"]))
    return {"facts": [asdict(f) for f in facts], "mismatches": [f.fact for f in facts if f.agrees is False],
            "sku": sku}
