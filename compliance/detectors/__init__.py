"""Circumvention detectors: one module per pattern, each a set-based query over the fleet.

Every detector module exposes ``detect(*, host_ids: list[int] | None) -> Iterable[FindingSpec]``:
``host_ids=None`` means the whole fleet (the periodic re-score), a list narrows it to the
hosts just evaluated (after ingest).  Detectors only read; `finding_raise` writes and
deduplicates, so running a detector twice raises nothing new.

Each module's docstring states the pattern, the red flag or rule it maps to, the evidence it
records and how severity is set; `_fleet` holds what several of them share.  Thresholds are
the ``CHIPWATCH_*`` settings of the detectors block in ``config/settings.py``.
"""
from __future__ import annotations

import importlib
import logging

from ..findings import finding_raise

log = logging.getLogger(__name__)

# Module names under compliance.detectors, in the order they run: first whether the hardware
# is what it claims to be and whether its reports can be trusted, then where it is and
# whether it is accounted for, then what the law says about who holds it and how much, and
# last how it is used.
DETECTORS: tuple[str, ...] = (
    "identity",
    "duplicate_identity",
    "telemetry_integrity",
    "relocation",
    "vanished_undeclared",
    "aggregation",
    "usage_pattern",
)


def _modules():
    return [importlib.import_module(f"{__name__}.{name}") for name in DETECTORS]


def run_detectors(*, host_ids: list[int] | None) -> int:
    """Run every detector over the given hosts (or the fleet) and raise what they find."""
    raised = 0
    for module in _modules():
        for spec in module.detect(host_ids=host_ids):
            finding_raise(spec=spec)
            raised += 1
    return raised


def run_host_detectors(*, host_id: int) -> int:
    return run_detectors(host_ids=[host_id])
