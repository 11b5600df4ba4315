"""Which catalog chip a reported GPU is: pure Python over the core catalog.

The PCI device id is the primary key (it is burnt into the board; the name is a
driver string), the NVML name breaks ties between variants sharing an id.  When
id and name point at different chips the GPU is *not* silently resolved: the
match says so, and the identity detector raises it.
"""
from __future__ import annotations

from dataclasses import dataclass

from compliance.core.catalog import Chip, default_catalog


@dataclass(frozen=True)
class CatalogMatch:
    chip: Chip | None
    basis: str
    name_chip: Chip | None = None  # what the reported name alone says, when it differs

    @property
    def conflicting(self) -> bool:
        return self.name_chip is not None and self.chip is not None and self.name_chip.key != self.chip.key


def identify(*, pci_device_id: int | None, name: str | None) -> CatalogMatch:
    catalog = default_catalog()
    by_name = catalog.by_nvml_name(name) if name else None
    candidates = catalog.by_pci_id(pci_device_id) if pci_device_id is not None else ()
    if len(candidates) == 1:
        chip = candidates[0]
        if by_name is not None and by_name.key != chip.key:
            return CatalogMatch(chip, f"PCI id 0x{pci_device_id:04X}; name {name!r} says {by_name.key}", by_name)
        return CatalogMatch(chip, f"PCI id 0x{pci_device_id:04X}")
    if candidates:
        if by_name is not None and by_name in candidates:
            return CatalogMatch(by_name, f"PCI id 0x{pci_device_id:04X} shared by "
                                         f"{', '.join(c.key for c in candidates)}; name {name!r}")
        # An id shared by several variants and a name that picks none: the conservative
        # choice is the most capable candidate (highest TPP), named as such.
        chip = max(candidates, key=lambda c: c.tpp or 0)
        return CatalogMatch(chip, f"PCI id 0x{pci_device_id:04X} ambiguous; highest-TPP candidate", by_name)
    if by_name is not None:
        basis = f"name {name!r}" + (f" (PCI id 0x{pci_device_id:04X} not in catalog)" if pci_device_id else "")
        return CatalogMatch(by_name, basis)
    return CatalogMatch(None, "no catalog entry for this PCI id or name")
