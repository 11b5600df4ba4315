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


# What each kind of change can alter, for the batch evaluation (compliance.evaluation), as
# (module, function) in DETECTORS order: any report's telemetry and host facts reach the first;
# only a changed identity (GPUs, their host or cluster) the second; re-scored clusters the third.
ON_EVERY_REPORT: tuple[tuple[str, str], ...] = (("telemetry_integrity", "detect_reports"), ("usage_pattern", "detect"))
ON_IDENTITY_CHANGE: tuple[tuple[str, str], ...] = (
    ("identity", "detect"),
    ("duplicate_identity", "detect"),
    ("telemetry_integrity", "detect_identity"),
    ("relocation", "detect"),
    ("vanished_undeclared", "detect"),
)
ON_RESCORE: tuple[tuple[str, str], ...] = (("aggregation", "detect"),)


def run_detectors(*, host_ids: list[int] | None) -> int:
    """Run every detector over the given hosts (or the fleet) and raise what they find."""
    return run_checks(checks=[(name, "detect") for name in DETECTORS], host_ids=host_ids)


def run_checks(*, checks, host_ids: list[int] | None) -> int:
    """Run the given (module, function) checks over the hosts and raise what they find; an
    empty list of hosts runs nothing (``None`` is the fleet)."""
    if host_ids is not None and not host_ids:
        return 0
    raised = 0
    for module, function in checks:
        for spec in getattr(importlib.import_module(f"{__name__}.{module}"), function)(host_ids=host_ids):
            finding_raise(spec=spec)
            raised += 1
    return raised
