"""One classification request, shared by `manage.py classify` and `GET /api/v1/classify`:
parse the inputs, pick the chip or build the spec, classify, and determine the licence.

Error messages name the inputs the way the caller spells them (``--model`` on the command line,
``model`` over the API): pass ``spell`` to ``classify_request``."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from inventory.countries import COUNTRY_CODES

from .core import MOVEMENTS, HbmStack, Spec, classify_or_undetermined, determine_license
from .classify_origin import jurisdiction_apply
from .classify_system import system_answer
from .core.catalog import Chip, default_catalog
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
    hbm_bandwidth_density: float | None = None
    datacenter: bool | None = None
    as_of: date | None = None
    destination: str | None = None
    headquarters: str | None = None
    ultimate_parent_hq: str | None = None
    movement: str | None = None


def api_spelling(name: str) -> str:
    return name


def cli_spelling(name: str) -> str:
    return "--" + name.replace("_", "-")


def _country(value: str | None, name: str, spell: Callable[[str], str]) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if code not in COUNTRY_CODES:
        raise ClassifyInputError(f"{spell(name)} {value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _item(request: ClassifyRequest, spell: Callable[[str], str]):
    chosen = [spell(name) for name in ("model", "pci_device_id", "tpp", "hbm_bandwidth_density")
              if getattr(request, name) is not None]
    if len(chosen) != 1:
        raise ClassifyInputError(f"give exactly one of {spell('model')}, {spell('pci_device_id')}, {spell('tpp')} "
                                 f"or {spell('hbm_bandwidth_density')}" + (f" (got {', '.join(chosen)})" if chosen else ""))
    spec_only = ("die_area", "io_bandwidth", "dram_bandwidth", "datacenter")
    given = [spell(name) for name in spec_only if getattr(request, name) is not None]
    if request.tpp is None and given:
        raise ClassifyInputError(f"{', '.join(given)} only go with {spell('tpp')} (a catalog chip has its own)")
    for name in ("tpp", "hbm_bandwidth_density", *spec_only):
        value = getattr(request, name)
        if isinstance(value, float) and not (value >= 0 and value != float("inf")):
            raise ClassifyInputError(f"{spell(name)} must be a finite number ≥ 0, got {value}")
    if request.hbm_bandwidth_density is not None:
        return HbmStack(request.hbm_bandwidth_density)
    catalog = default_catalog()
    if request.model is not None:
        found = catalog.lookup(request.model)
        if found is None:
            near = catalog.near(request.model)
            raise ClassifyInputError(f"no catalog chip or NVML name {request.model!r}"
                                     + (f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""))
        return found
    if request.pci_device_id is not None:
        try:
            candidates = catalog.by_pci_id(request.pci_device_id)
        except (ValueError, TypeError) as exc:
            raise ClassifyInputError(str(exc)) from None
        if not candidates:
            raise ClassifyInputError(f"no catalog chip has PCI device id {request.pci_device_id}")
        if len(candidates) > 1:
            raise ClassifyInputError(f"PCI device id {request.pci_device_id} is shared by "
                                     f"{', '.join(c.key for c in candidates)}: use {spell('model')}")
        return candidates[0]
    return Spec(tpp=request.tpp, die_area=request.die_area, io_bandwidth=request.io_bandwidth,
                dram_bandwidth=request.dram_bandwidth, datacenter=request.datacenter)


def classify_request(request: ClassifyRequest, *, today: date, spell: Callable[[str], str] = api_spelling) -> dict:
    """The JSON answer: eccn, paragraph, rule, tpp, performance_density, license_exception,
    explanation (and ``missing`` when a figure is unknown), and with a destination the licence
    determination (license_required True/False/None = undetermined, review_policy, headline,
    reasons, warnings, missing, conditions, unconfirmed, basis); the licence's ``missing`` then
    replaces the classification's, kept as ``classification_missing``."""
    system = find_system(request.model) if request.model else None
    item = system or _item(request, spell)
    destination = _country(request.destination, "destination", spell)
    headquarters = _country(request.headquarters, "headquarters", spell)
    ultimate_parent_hq = _country(request.ultimate_parent_hq, "ultimate_parent_hq", spell)
    if destination is None and (headquarters or ultimate_parent_hq or request.movement):
        raise ClassifyInputError(f"{spell('headquarters')}/{spell('ultimate_parent_hq')}/{spell('movement')} "
                                 f"need a {spell('destination')}")
    if request.movement is not None and request.movement not in MOVEMENTS:
        raise ClassifyInputError(f"{spell('movement')} must be one of {', '.join(MOVEMENTS)}, not {request.movement!r}")
    as_of = request.as_of or today
    if system is not None:  # a computer or assembly: 4A090 / .z from the chips inside
        return system_answer(system, request, as_of=as_of, destination=destination, headquarters=headquarters,
                             ultimate_parent_hq=ultimate_parent_hq, spell=spell)
    verdict = classify_or_undetermined(item, as_of)
    if verdict.undetermined and destination is None and isinstance(item, Spec):
        raise ClassifyInputError(f"{verdict.needed_for}: {', '.join(verdict.missing)} unknown but needed to decide it; "
                                 f"give a {spell('destination')} for the licence answer, which may not depend on it")
    answer = verdict.to_dict()
    answer.pop("spec", None)
    answer["chip"] = getattr(item, "key", None)
    if isinstance(item, HbmStack):  # the one figure a stack is classified on, as given
        answer["hbm_bandwidth_density"] = item.hbm_bandwidth_density
    if destination is not None:
        if verdict.undetermined:  # the licence answer's own ``missing`` replaces the classification's
            answer["classification_missing"] = answer["missing"]
        determination = determine_license(
            verdict, destination=destination, as_of=as_of, headquarters=headquarters,
            ultimate_parent_hq=ultimate_parent_hq, prc_made=getattr(item, "prc_made", False),
            movement=request.movement)
        answer.update(determination.to_dict())
        answer["destination"] = destination
        answer["movement"] = request.movement
    if isinstance(item, Chip):  # a foreign-made chip is not classified as if it were US-origin
        jurisdiction_apply(answer, chip=item, classification=verdict, as_of=as_of)
    return answer
