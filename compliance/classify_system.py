"""The system branch of a classification request (`classify --model "NVIDIA DGX H100"`):
a catalogued computer or assembly answered as 4A090 / .z from the chips inside it."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

from .core.systems import System, classify_system, determine_system_license

SPEC_ONLY = ("pci_device_id", "tpp", "die_area", "io_bandwidth", "dram_bandwidth", "datacenter")


def system_answer(system: System, request, *, as_of: date, destination: str | None, headquarters: str | None,
                  ultimate_parent_hq: str | None, spell: Callable[[str], str]) -> dict:
    """The JSON answer for a system: eccn, paragraph, rule, classification_reasons, the chips
    inside with their 3A090 paragraphs, and with a destination the licence determination."""
    from .classify_request import ClassifyInputError  # that module dispatches here

    given = [spell(name) for name in SPEC_ONLY if getattr(request, name) is not None]
    if given:
        raise ClassifyInputError(f"{system.model} is a catalogued system: {', '.join(given)} do not apply "
                                 "(its chips have their own figures)")
    verdict = classify_system(system, as_of)
    governing = verdict.governing.classification if verdict.governing else None
    answer = verdict.to_dict()
    answer["classification_reasons"] = answer.pop("reasons")
    answer.update({
        "chip": None,
        "tpp": governing.tpp if governing else None,
        "performance_density": governing.performance_density if governing else None,
        "license_exception": list(governing.license_exception) if governing and verdict.eccn else [],
        "explanation": [dict(step.__dict__) for step in governing.explanation] if governing else [],
    })
    if destination is None:
        return answer
    determination = determine_system_license(verdict, destination=destination, as_of=as_of,
                                             headquarters=headquarters, ultimate_parent_hq=ultimate_parent_hq,
                                             movement=request.movement)
    answer.update(determination.to_dict())
    answer.update(destination=destination, movement=request.movement)
    return answer
