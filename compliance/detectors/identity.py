"""identity — relabelled or spoofed parts: what a GPU says it is against what it reports having.

Pattern.  Each GPU's reported identity (NVML name, 16-bit PCI device id, active NVLink count
and generation, memory size, CUDA core count, max SM clock, max power limit) is checked
against the catalog entry of the chip its PCI id names (``compliance.identify``; the id is
burnt into the board, the name is a driver string).  The hits it is built to catch:

* an "NVIDIA H800" with 18 active NVLink4 links: an H100 relabelled, or an H800 whose
  links 8-17 were unlocked.  The H800 and A800 exist because 87 FR 62186 3A090.a only
  caught parts with >= 600 GB/s aggregate I/O; their NVLink was cut to 8 links to stay
  under it (8 NVLink links = 400 GB/s on the H800, against 18 = 900 GB/s on the H100 SXM; NVIDIA datasheets);
* a PCI id of one chip reporting another chip's name, e.g. an H100 id named "NVIDIA H20"
  (the H20 is below 3A090, the H100 is 3A090.a.1);
* a memory size that is no known variant of the chip, an SM count that is not the chip's,
  a max clock or power limit beyond what the chip is built for.

NVLink is compared by link count and generation, never by GB/s: NVML reports the signalling
rate (26.562 GB/s per NVLink4 link against 25 marketed), so "18 x NVLink4" is H100-class and
"8 x NVLink4" H800-class whatever the exact figure (NVML nvmlDeviceGetNvLinkState per link).  Fewer active links than
catalogued is not a hit (links are down or a PCIe card has fewer bridges), more is.

Red flag.  Supp. No. 3 to part 732 (know-your-customer red flags: the item's description or
capability does not fit what is declared) and BIS, Industry Guidance to Prevent Diversion of Advanced Computing ICs, May 13 2025; the NVLink hit concerns the 3A090.a interconnect prong of 87 FR 62186.

Evidence.  One finding per host and claimed identity (PCI id + name): every discrepancy with
the reported and the expected figure and the GPUs showing it, the catalog chips the reported
figures *do* fit, and the full-identity observation each GPU was last described in.

Severity.  Critical when the part is more capable than it claims (more NVLinks than its chip
has; a name of a less capable chip than its PCI id); high for other contradictions (name of
a more capable chip, NVLink generation, memory, SM count); medium when only the clock or
power limit is out of line (these have legitimate vendor variance).
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache

from django.conf import settings
from django.db.models import Count

from inventory.models import Gpu

from ..core.catalog import Chip, default_catalog, normalize_name
from ..findings import FindingSpec
from ..identify import identify
from ._fleet import Severity, Subject, host_places, in_scope

KIND = "identity"
KYC_CITATION = "15 CFR part 732 Supp. No. 3 (red flags); BIS diversion guidance of May 13 2025"
INTERCONNECT_CITATION = "87 FR 62186, 3A090.a (>= 600 GB/s aggregate I/O); NVLink count per NVML nvmlDeviceGetNvLinkState"

# The reported figures an identity is judged on (one GROUP BY over these).
SIGNATURE = ("pci_device_id", "name", "memory_total_bytes", "num_cores", "max_sm_clock_mhz", "power_limit_max_mw",
             "active_nvlinks", "nvlink_version")

# Memory variants sold besides the catalog entry's own figure and the sizes spelled in its model and
# NVML names (vendor datasheets; pci.ids device names).
OTHER_MEMORY_VARIANTS_GB = {
    "b200": (180, 168),  # "180-192GB HBM3e"; pci.ids 0x2909 "HGX B200 168GB"
    "h20": (141,),  # pci.ids 0x232C "H20 HBM3e" (141GB)
    "rtx-5090-d": (24,),  # RTX 5090 D V2, 24GB GDDR7
}
_SIZE_IN_NAME = re.compile(r"(\d+(?:/\d+)*)\s*GB\b")

# NVML's num_cores is CUDA cores; the catalog counts SMs.  FP32 cores per SM: 64 on GA100
# (the only Ampere die catalogued: 6,912 / 108), 128 on Hopper, Ada and Blackwell.
CORES_PER_SM = {"Ampere": 64, "Hopper": 128, "Ada Lovelace": 128, "Blackwell": 128}

GIB = 1024 ** 3


@dataclass(frozen=True)
class Tolerances:
    memory: float
    clock: float
    power: float
    extra_nvlinks: int

    @classmethod
    def from_settings(cls) -> "Tolerances":
        return cls(settings.CHIPWATCH_IDENTITY_MEMORY_TOLERANCE, settings.CHIPWATCH_IDENTITY_CLOCK_TOLERANCE,
                   settings.CHIPWATCH_IDENTITY_POWER_TOLERANCE, settings.CHIPWATCH_IDENTITY_EXTRA_NVLINKS)


@dataclass(frozen=True)
class Signature:
    pci_device_id: int | None
    name: str
    memory_total_bytes: int | None
    num_cores: int | None
    max_sm_clock_mhz: int | None
    power_limit_max_mw: int | None
    active_nvlinks: int | None
    nvlink_version: int | None


@dataclass(frozen=True)
class Discrepancy:
    check: str
    reported: object
    expected: object
    severity: int
    citation: str


def known_memory_sizes_gb(chip: Chip) -> frozenset[float]:
    sizes = {chip.memory_gb} if chip.memory_gb else set()
    for text in (chip.model, *chip.nvml_names):
        for group in _SIZE_IN_NAME.findall(text):
            sizes.update(float(size) for size in group.split("/"))
    sizes.update(OTHER_MEMORY_VARIANTS_GB.get(chip.key, ()))
    return frozenset(sizes)


def expected_nvlinks(chip: Chip) -> int | None:
    if chip.interconnect_links is not None:
        return chip.interconnect_links
    return 0 if chip.interconnect_kind == "none" else None


def figure_checks(sig: Signature, chip: Chip, tol: Tolerances) -> list[Discrepancy]:
    """Every reported figure that contradicts ``chip`` (the name is checked separately)."""
    found = []
    links = expected_nvlinks(chip)
    if sig.active_nvlinks and links is not None and sig.active_nvlinks > links + tol.extra_nvlinks:
        found.append(Discrepancy("nvlink_count", sig.active_nvlinks, links, Severity.CRITICAL, INTERCONNECT_CITATION))
    if (sig.active_nvlinks and sig.nvlink_version is not None and chip.interconnect_generation is not None
            and sig.nvlink_version != chip.interconnect_generation):
        found.append(Discrepancy("nvlink_generation", sig.nvlink_version, chip.interconnect_generation,
                                 Severity.HIGH, INTERCONNECT_CITATION))
    sizes = known_memory_sizes_gb(chip)
    if sig.memory_total_bytes and sizes:
        reported_gib = sig.memory_total_bytes / GIB
        if not any(abs(reported_gib - size) <= size * tol.memory for size in sizes):
            found.append(Discrepancy("memory_size", round(reported_gib, 2), sorted(sizes), Severity.HIGH, KYC_CITATION))
    per_sm = CORES_PER_SM.get(chip.architecture)
    if sig.num_cores and chip.sm_count and per_sm and sig.num_cores != chip.sm_count * per_sm:
        found.append(Discrepancy("sm_count", round(sig.num_cores / per_sm, 2), chip.sm_count, Severity.HIGH,
                                 KYC_CITATION))
    if sig.max_sm_clock_mhz and chip.max_clock_mhz and sig.max_sm_clock_mhz > chip.max_clock_mhz * (1 + tol.clock):
        found.append(Discrepancy("max_sm_clock_mhz", sig.max_sm_clock_mhz, chip.max_clock_mhz, Severity.MEDIUM,
                                 KYC_CITATION))
    if sig.power_limit_max_mw and chip.tdp_w and sig.power_limit_max_mw / 1000 > chip.tdp_w * (1 + tol.power):
        found.append(Discrepancy("power_limit_w", sig.power_limit_max_mw / 1000, chip.tdp_w, Severity.MEDIUM,
                                 KYC_CITATION))
    return found


@lru_cache(maxsize=4096)
def judge(sig: Signature, tol: Tolerances) -> tuple[Chip | None, tuple[Discrepancy, ...], tuple[str, ...]]:
    """(the chip the PCI id names, what contradicts it, the catalog chips the figures do fit).

    Cached: a fleet has few distinct signatures, however many GPUs share each.
    """
    match = identify(pci_device_id=sig.pci_device_id, name=sig.name or None)
    if match.chip is None:
        return None, (), ()
    found = figure_checks(sig, match.chip, tol)
    if match.conflicting:
        understated = (match.chip.tpp or 0) > (match.name_chip.tpp or 0)
        found.insert(0, Discrepancy("name", f"{sig.name} ({match.name_chip.key})", match.chip.key,
                                    Severity.CRITICAL if understated else Severity.HIGH, KYC_CITATION))
    if not found:
        return match.chip, (), ()
    fits = tuple(c.key for c in default_catalog() if c.architecture == match.chip.architecture
                 and not figure_checks(sig, c, tol))
    return match.chip, tuple(found), fits


def detect(*, host_ids: list[int] | None) -> Iterable[FindingSpec]:
    tol = Tolerances.from_settings()
    signatures = (in_scope(Gpu.objects.filter(host__isnull=False), host_ids)
                  .values("host_id", *SIGNATURE).annotate(gpus=Count("id")).order_by())
    flagged: dict[tuple, dict] = defaultdict(lambda: {"discrepancies": {}, "gpus": 0})
    for row in signatures:
        sig = Signature(**{field: row[field] for field in SIGNATURE})
        chip, discrepancies, fits = judge(sig, tol)
        if not discrepancies:
            continue
        group = flagged[(row["host_id"], sig.pci_device_id, normalize_name(sig.name))]
        group.update(chip=chip, name=sig.name, fits=fits)
        group["gpus"] += row["gpus"]
        for d in discrepancies:
            group["discrepancies"].setdefault((d.check, str(d.reported)), d)
    if not flagged:
        return
    members = defaultdict(list)
    for host_id, pci_id, name, gpu_uuid, observation_id in (
            Gpu.objects.filter(host_id__in={key[0] for key in flagged})
            .values_list("host_id", "pci_device_id", "name", "uuid", "last_observation_id")):
        members[(host_id, pci_id, normalize_name(name))].append((gpu_uuid, observation_id))
    places = host_places(key[0] for key in flagged)
    for key, group in flagged.items():
        host_id, pci_id, _ = key
        discrepancies = list(group["discrepancies"].values())
        place = places[host_id]
        chip = group["chip"]
        yield FindingSpec(
            kind=KIND,
            severity=max(d.severity for d in discrepancies),
            subject_type=Subject.HOST,
            subject_id=host_id,
            dedup_key=f"{KIND}:host{host_id}:{pci_id}:{key[2]}",
            title=(f"{group['gpus']} GPU(s) reporting {group['name']!r} (PCI id {_pci(pci_id)}) contradict the "
                   f"{chip.key} catalog entry: {', '.join(sorted({d.check for d in discrepancies}))}"),
            citation="; ".join(dict.fromkeys(d.citation for d in discrepancies)),
            observation_ids=tuple(sorted({obs for _, obs in members[key] if obs is not None})),
            figures={
                "reported_name": group["name"],
                "pci_device_id": _pci(pci_id),
                "catalog_model": chip.key,
                "gpu_count": group["gpus"],
                "gpu_uuids": sorted(u for u, _ in members[key]),
                "discrepancies": [asdict(d) for d in discrepancies],
                "figures_fit": list(group["fits"]),
            },
            cluster_id=place.cluster_id,
            organization_id=place.operator_id,
        )


def _pci(device_id: int | None) -> str:
    return "unreadable" if device_id is None else f"0x{device_id:04X}"
