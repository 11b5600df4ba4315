"""One classification request, shared by `manage.py classify` and `GET /api/v1/classify`:
parse the inputs, pick the chip or build the spec, classify, and determine the licence."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from inventory.countries import COUNTRY_CODES

from .core import InsufficientSpec, Spec, UnknownChip, chip as catalog_chip, classify, determine_license
from .classify_system import system_answer
from .core.catalog import default_catalog
from .core.systems import find_system


class ClassifyInputError(ValueError):
    """Missing or contradictory input; the message says which."""


@dataclass(frozen=True)
class ClassifyRequest:
    model: str | None = None
    pci_device_id: str | None = None
    tpp: float | None = None
    die_area: float | None = None
    io_bandwidth: float | None = None
    dram_bandwidth: float | None = None
    datacenter: bool | None = None
    as_of: date | None = None
    destination: str | None = None
    headquarters: str | None = None
    ultimate_parent_hq: str | None = None


def _country(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if code not in COUNTRY_CODES:
        raise ClassifyInputError(f"{name} {value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _item(request: ClassifyRequest):
    chosen = [name for name, value in (("model", request.model), ("pci device id", request.pci_device_id),
                                       ("tpp", request.tpp)) if value is not None]
    if len(chosen) != 1:
        raise ClassifyInputError("give exactly one of --model, --pci-device-id or --tpp"
                                 + (f" (got {', '.join(chosen)})" if chosen else ""))
    spec_only = {"die area": request.die_area, "io bandwidth": request.io_bandwidth,
                 "dram bandwidth": request.dram_bandwidth, "datacenter": request.datacenter}
    given = [name for name, value in spec_only.items() if value is not None]
    if request.tpp is None and given:
        raise ClassifyInputError(f"{', '.join(given)} only go with --tpp (a catalog chip has its own)")
    for name, value in (("tpp", request.tpp), *spec_only.items()):
        if isinstance(value, float) and not (value >= 0 and value != float("inf")):
            raise ClassifyInputError(f"{name} must be a finite number ≥ 0, got {value}")
    if request.model is not None:
        found = default_catalog().by_nvml_name(request.model)
        if found is None:
            try:
                found = catalog_chip(request.model)
            except UnknownChip:
                raise ClassifyInputError(f"no catalog chip or NVML name {request.model!r}") from None
        return found
    if request.pci_device_id is not None:
        try:
            candidates = default_catalog().by_pci_id(request.pci_device_id)
        except (ValueError, TypeError) as exc:
            raise ClassifyInputError(str(exc)) from None
        if not candidates:
            raise ClassifyInputError(f"no catalog chip has PCI device id {request.pci_device_id}")
        if len(candidates) > 1:
            raise ClassifyInputError(f"PCI device id {request.pci_device_id} is shared by "
                                     f"{', '.join(c.key for c in candidates)}: use --model")
        return candidates[0]
    return Spec(tpp=request.tpp, die_area=request.die_area, io_bandwidth=request.io_bandwidth,
                dram_bandwidth=request.dram_bandwidth, datacenter=request.datacenter)


def classify_request(request: ClassifyRequest, *, today: date) -> dict:
    """The JSON answer: eccn, paragraph, rule, tpp, performance_density, license_exception,
    explanation, and with a destination license_required, review_policy and reasons."""
    destination = _country(request.destination, "destination")
    headquarters = _country(request.headquarters, "headquarters")
    ultimate_parent_hq = _country(request.ultimate_parent_hq, "ultimate parent headquarters")
    if destination is None and (headquarters or ultimate_parent_hq):
        raise ClassifyInputError("--headquarters/--ultimate-parent-hq need a --destination")
    as_of = request.as_of or today
    system = find_system(request.model) if request.model else None
    if system is not None:  # a computer or assembly: 4A090 / .z from the chips inside
        if any(v is not None for v in (request.die_area, request.io_bandwidth, request.dram_bandwidth,
                                       request.datacenter)):
            raise ClassifyInputError(f"{system.model} is a catalogued system: its chips have their own figures")
        return system_answer(system, as_of=as_of, destination=destination, headquarters=headquarters,
                             ultimate_parent_hq=ultimate_parent_hq)
    item = _item(request)
    try:
        verdict = classify(item, as_of)
    except InsufficientSpec as missing:
        raise ClassifyInputError(str(missing)) from None
    answer = verdict.to_dict()
    answer.pop("spec", None)
    answer["chip"] = getattr(item, "key", None)
    if destination is not None:
        determination = determine_license(
            verdict, destination=destination, as_of=as_of, headquarters=headquarters,
            ultimate_parent_hq=ultimate_parent_hq, prc_made=getattr(item, "prc_made", False))
        answer.update(determination.to_dict())
        answer["destination"] = destination
    return answer
