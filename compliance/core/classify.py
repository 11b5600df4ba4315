"""ECCN 3A090 classification: a spec and a date in, a cited, step-by-step answer out.

Inputs the rule needs but the spec lacks are never guessed: when an unknown value could
change the answer, ``InsufficientSpec`` names it.  Unknown values that cannot change the
answer (e.g. I/O bandwidth of a chip already below the 2022 TPP line) are tolerated.
``classify_or_undetermined`` returns the same as a Classification whose ``missing`` names
the unknown inputs, so a named chip without figures (MI308X) still gets a licence answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache

from .catalog import Chip
from .regimes import (
    FIRST_EFFECTIVE,
    FR22,
    QUANTITY_LABELS,
    Regime,
    Step,
    Threshold,
    evaluate,
    regime_in_force,
    rounded,
)


class InsufficientSpec(ValueError):
    """The regime needs an input the spec does not have."""

    def __init__(self, missing: list[str], needed_for: str):
        self.missing = missing
        self.needed_for = needed_for
        labels = ", ".join(QUANTITY_LABELS.get(name, name) for name in missing)
        super().__init__(f"{labels} unknown but needed to decide {needed_for}")


@dataclass(frozen=True)
class Spec:
    """What 3A090 looks at.  Bandwidths in GB/s, die area in mm2; None means unknown."""

    tpp: float | None
    die_area: float | None = None
    io_bandwidth: float | None = None
    dram_bandwidth: float | None = None
    datacenter: bool | None = None
    vendor: str | None = None
    chip: str | None = None

    @property
    def performance_density(self) -> float | None:
        if self.tpp is None or self.die_area is None:
            return None
        return self.tpp / self.die_area

    @classmethod
    def from_chip(cls, chip: Chip) -> Spec:
        return cls(
            tpp=chip.tpp,
            die_area=chip.applicable_die_area,
            io_bandwidth=chip.io_bandwidth,
            dram_bandwidth=chip.memory_bandwidth,
            datacenter=chip.datacenter,
            vendor=chip.vendor,
            chip=chip.key,
        )


@dataclass(frozen=True)
class HbmStack:
    """A stand-alone HBM stack, the only item 3A090.c reaches (co-packaged HBM is excluded)."""

    hbm_bandwidth_density: float


@dataclass(frozen=True)
class Classification:
    eccn: str | None
    paragraph: str | None
    rule: str | None
    as_of: date
    tpp: float | None
    performance_density: float | None
    license_exception: tuple[str, ...]
    explanation: tuple[Step, ...]
    spec: Spec | HbmStack
    missing: tuple[str, ...] = ()
    needed_for: str | None = None

    @property
    def controlled(self) -> bool:
        return self.eccn is not None

    @property
    def undetermined(self) -> bool:
        return bool(self.missing)

    def to_dict(self) -> dict:
        # Field by field rather than dataclasses.asdict, whose deep copies dominated a fleet re-score.
        return {
            "eccn": self.eccn,
            "paragraph": self.paragraph,
            "rule": self.rule,
            "as_of": self.as_of.isoformat(),
            "tpp": self.tpp,
            "performance_density": self.performance_density,
            "license_exception": list(self.license_exception),
            "explanation": [dict(step.__dict__) for step in self.explanation],
            "spec": dict(self.spec.__dict__),
            **({"missing": list(self.missing), "needed_for": self.needed_for} if self.missing else {}),
        }


@lru_cache(maxsize=4096)
def classify(item: Chip | Spec | HbmStack, as_of: date) -> Classification:
    """Classify under the regime in force on ``as_of``."""
    spec = Spec.from_chip(item) if isinstance(item, Chip) else item
    regime = regime_in_force(as_of)
    steps = [_effective_step(regime, as_of)]
    if regime is None:
        return _result(None, None, None, as_of, spec, steps)
    if isinstance(spec, HbmStack):
        return _classify_hbm(spec, regime, as_of, steps)
    if spec.tpp is None:
        raise InsufficientSpec(["tpp"], f"any 3A090 paragraph ({regime.citation})")
    return _classify_logic(spec, regime, as_of, steps)


def classify_or_undetermined(item: Chip | Spec | HbmStack, as_of: date) -> Classification:
    """``classify``, except that an unknown input gives an undetermined Classification (eccn None,
    ``missing`` naming what is unknown) instead of raising."""
    try:
        return classify(item, as_of)
    except InsufficientSpec as unknown:
        spec = Spec.from_chip(item) if isinstance(item, Chip) else item
        regime = regime_in_force(as_of)
        result = _result(None, None, regime, as_of, spec, [_effective_step(regime, as_of)])
        return replace(result, missing=tuple(unknown.missing), needed_for=unknown.needed_for)


def _classify_logic(spec: Spec, regime: Regime, as_of: date, steps: list[Step]) -> Classification:
    excluded = evaluate(regime.non_datacenter_exclusion, spec, steps) if regime.non_datacenter_exclusion else False
    if excluded:
        return _result(None, None, regime, as_of, spec, steps)
    for paragraph in regime.paragraphs:
        met = evaluate(paragraph.conditions, spec, steps)
        if met is None:
            raise InsufficientSpec(_missing(paragraph.conditions, spec), paragraph.name)
        if met:
            if excluded is None:
                raise InsufficientSpec(_missing(regime.non_datacenter_exclusion, spec), "Note 2 to 3A090")
            exceptions = _license_exceptions(paragraph.eccn, regime, spec, steps)
            return _result(paragraph.eccn, paragraph.name, regime, as_of, spec, steps, exceptions)
    return _result(None, None, regime, as_of, spec, steps)


def _license_exceptions(eccn: str, regime: Regime, spec: Spec, steps: list[Step]) -> tuple[str, ...]:
    conditions = regime.exception_conditions(eccn)
    if not conditions:
        return ()
    eligible = evaluate(conditions, spec, steps)
    if eligible is None:
        raise InsufficientSpec(_missing(conditions, spec), f"License Exception {'/'.join(regime.license_exceptions)}")
    return regime.license_exceptions if eligible else ()


def _classify_hbm(stack: HbmStack, regime: Regime, as_of: date, steps: list[Step]) -> Classification:
    if regime.hbm is None:
        return _result(None, None, regime, as_of, stack, steps)
    hbm = regime.hbm
    if not evaluate(hbm.paragraph.conditions, stack, steps):
        return _result(None, None, regime, as_of, stack, steps)
    exception_ok = evaluate((hbm.license_exception_condition,), stack, steps)
    exceptions = (hbm.license_exception,) if exception_ok else ()
    return _result(hbm.paragraph.eccn, hbm.paragraph.name, regime, as_of, stack, steps, exceptions)


def _missing(conditions: tuple[Threshold, ...], spec: object) -> list[str]:
    return sorted({t.quantity for t in conditions if getattr(spec, t.quantity) is None})


def _effective_step(regime: Regime | None, as_of: date) -> Step:
    if regime is None:
        return Step(
            f"3A090 in force on {as_of.isoformat()}", as_of.isoformat(), ">=", FIRST_EFFECTIVE.isoformat(), False, FR22
        )
    return Step(
        f"{regime.name} in force on {as_of.isoformat()}",
        as_of.isoformat(),
        ">=",
        regime.effective.isoformat(),
        True,
        regime.citation,
    )


def _result(
    eccn: str | None,
    paragraph: str | None,
    regime: Regime | None,
    as_of: date,
    spec: Spec | HbmStack,
    steps: list[Step],
    exceptions: tuple[str, ...] = (),
) -> Classification:
    is_logic = isinstance(spec, Spec)
    return Classification(
        eccn=eccn,
        paragraph=paragraph,
        rule=None if regime is None else regime.citation,
        as_of=as_of,
        tpp=rounded(spec.tpp) if is_logic else None,
        performance_density=rounded(spec.performance_density) if is_logic else None,
        license_exception=tuple(exceptions),
        explanation=tuple(steps),
        spec=spec,
    )
