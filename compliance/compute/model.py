"""Training compute from GPU telemetry, in plain Python: how samples become GPU-hours, energy
and an operations range, and how a training run is recognised.  No Django here.

Accounting.  Each GPU's samples are put in time order; the interval from one sample to the
next is attributed to the bucket in which it *starts* and carries the later sample's
readings (NVML's utilization and energy describe the period that ends at the reading).  An
interval longer than ``max_gap_seconds`` is a gap: the GPU is not counted as running, its
energy is not counted.  An interval of zero or negative length (a repeated or backwards
timestamp) counts for nothing.  Energy is the increase of the cumulative counter; a counter
that went down was reset (driver reload, reboot), and what it shows after the reset is the
energy since then.  A sample whose agent clock (``collected_at``) is later than the server's
receipt plus ``skew_tolerance_seconds`` cannot be right — nothing is received before it is
collected — so it is placed at the receipt time instead; an earlier ``collected_at`` is
kept, because an agent's spool legitimately delivers old samples late.

Estimate.  ``utilization.gpu`` is a duty cycle — the share of time at least one kernel was
running — not tensor-core occupancy.  So for each precision the upper bound is every busy
second at the chip's dense peak (``util x peak x dt``; unknown utilization counts as busy),
and the lower bound assumes only that a busy GPU achieves ``mfu_floor`` of that peak (a
stated assumption, not a measurement).  The range reported is [BF16/FP16 lower, FP8
upper]: the run may have used either precision.  A chip with no catalogued rate makes the
upper bound unknown (None) rather than small.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path

import yaml

BUCKET_SECONDS = 3600
TERA = 1e12
PRECISIONS = ("fp16", "fp8")  # catalog keys; "fp16" is the faster of FP16 and BF16
THRESHOLDS_PATH = Path(__file__).parent / "data" / "thresholds.yaml"


# --------------------------------------------------------------------------- accounting


@dataclass(frozen=True)
class Sample:
    """One GpuSample as the accounting reads it."""

    id: int
    gpu_id: int
    chip: str  # the name the GPU reported; the caller maps it to the catalog
    collected_at: datetime
    received_at: datetime
    utilization_pct: float | None
    energy_mj: int | None


@dataclass(frozen=True)
class Rules:
    max_gap_seconds: float
    skew_tolerance_seconds: float
    training_utilization_pct: float


@dataclass
class Usage:
    """What one bucket holds for one chip name; the fields are the rollup's columns."""

    gpus: int = 0
    samples: int = 0
    gpu_seconds: float = 0.0
    busy_gpu_seconds: float = 0.0
    unknown_util_seconds: float = 0.0
    energy_j: float = 0.0
    counter_resets: int = 0
    gaps: int = 0
    gap_seconds: float = 0.0
    skew_corrected: int = 0
    training_gpus: int = 0
    training_gpu_seconds: float = 0.0
    training_busy_seconds: float = 0.0
    training_unknown_seconds: float = 0.0
    first_sample_id: int | None = None
    last_sample_id: int | None = None


def placed_at(collected_at: datetime, received_at: datetime, tolerance_seconds: float) -> tuple[datetime, bool]:
    """Where a sample goes on the time axis, and whether its agent clock was overruled."""
    if collected_at > received_at + timedelta(seconds=tolerance_seconds):
        return received_at, True
    return collected_at, False


def bucket_start(moment: datetime, bucket_seconds: int = BUCKET_SECONDS) -> datetime:
    epoch = moment.timestamp()
    return datetime.fromtimestamp(epoch - epoch % bucket_seconds, tz=timezone.utc)


def account(samples: Iterable[Sample], *, start: datetime, end: datetime, rules: Rules,
            bucket_seconds: int = BUCKET_SECONDS) -> dict[tuple[datetime, str], Usage]:
    """(bucket start, chip) → Usage for the intervals starting in [start, end).

    The reference semantics the rollup's SQL implements set-wise (tests compare the two);
    ``samples`` must include those up to ``end + max_gap_seconds`` for the last intervals.
    """
    by_gpu: dict[int, list] = defaultdict(list)
    for sample in samples:
        at, corrected = placed_at(sample.collected_at, sample.received_at, rules.skew_tolerance_seconds)
        by_gpu[sample.gpu_id].append((at, sample.id, corrected, sample))
    per_gpu: dict[tuple[datetime, str, int], Usage] = {}
    for gpu_id, rows in by_gpu.items():
        rows.sort(key=lambda row: (row[0], row[1]))
        for (prev_at, _, _, prev), (at, _, corrected, sample) in zip(rows, rows[1:]):
            if not start <= prev_at < end:
                continue
            key = (bucket_start(prev_at, bucket_seconds), sample.chip, gpu_id)
            usage = per_gpu.setdefault(key, Usage())
            _add_interval(usage, (at - prev_at).total_seconds(), sample, prev=prev, corrected=corrected,
                          max_gap=rules.max_gap_seconds)
    out: dict[tuple[datetime, str], Usage] = {}
    training_seconds = rules.training_utilization_pct / 100 * bucket_seconds
    for (bucket, chip, _), usage in per_gpu.items():
        total = out.setdefault((bucket, chip), Usage())
        _merge(total, usage, training=usage.busy_gpu_seconds >= training_seconds)
    return out


def _add_interval(usage: Usage, dt: float, sample: Sample, *, prev: Sample, corrected: bool, max_gap: float) -> None:
    usage.skew_corrected += corrected
    usage.first_sample_id = min(prev.id, sample.id, *_known(usage.first_sample_id))
    usage.last_sample_id = max(prev.id, sample.id, *_known(usage.last_sample_id))
    if dt > max_gap:
        usage.gaps += 1
        usage.gap_seconds += dt
        return
    if dt <= 0:
        return
    usage.samples += 1
    usage.gpu_seconds += dt
    if sample.utilization_pct is None:
        usage.unknown_util_seconds += dt
    else:
        usage.busy_gpu_seconds += dt * sample.utilization_pct / 100
    if sample.energy_mj is not None and prev.energy_mj is not None:
        if sample.energy_mj >= prev.energy_mj:
            usage.energy_j += (sample.energy_mj - prev.energy_mj) / 1000
        else:
            usage.counter_resets += 1
            usage.energy_j += sample.energy_mj / 1000


def _merge(total: Usage, gpu: Usage, *, training: bool) -> None:
    total.gpus += gpu.samples > 0
    for name in ("samples", "gpu_seconds", "busy_gpu_seconds", "unknown_util_seconds", "energy_j",
                 "counter_resets", "gaps", "gap_seconds", "skew_corrected"):
        setattr(total, name, getattr(total, name) + getattr(gpu, name))
    if training:
        total.training_gpus += 1
        total.training_gpu_seconds += gpu.gpu_seconds
        total.training_busy_seconds += gpu.busy_gpu_seconds
        total.training_unknown_seconds += gpu.unknown_util_seconds
    total.first_sample_id = min(_known(total.first_sample_id, gpu.first_sample_id), default=None)
    total.last_sample_id = max(_known(total.last_sample_id, gpu.last_sample_id), default=None)


def _known(*ids: int | None) -> list[int]:
    return [i for i in ids if i is not None]


# --------------------------------------------------------------------------- estimate


@dataclass(frozen=True)
class OpsRange:
    """Operations delivered: per precision (upper, lower), and the overall [lower, upper].

    ``upper`` is None when some busy time ran on a chip with no catalogued rate: the
    telemetry then bounds the operations from below only.
    """

    by_precision: Mapping[str, tuple[float, float]]
    lower: float
    upper: float | None
    uncatalogued_busy_seconds: float = 0.0

    def __add__(self, other: OpsRange) -> OpsRange:
        keys = set(self.by_precision) | set(other.by_precision)
        return OpsRange(
            by_precision={p: tuple(a + b for a, b in zip(self.by_precision.get(p, (0.0, 0.0)),
                                                         other.by_precision.get(p, (0.0, 0.0)))) for p in keys},
            lower=self.lower + other.lower,
            upper=None if self.upper is None or other.upper is None else self.upper + other.upper,
            uncatalogued_busy_seconds=self.uncatalogued_busy_seconds + other.uncatalogued_busy_seconds,
        )

    def as_dict(self) -> dict:
        return {"lower": self.lower, "upper": self.upper,
                "by_precision": {p: {"upper": u, "lower": lo} for p, (u, lo) in sorted(self.by_precision.items())},
                "uncatalogued_busy_gpu_seconds": self.uncatalogued_busy_seconds}


NO_OPS = OpsRange(by_precision={p: (0.0, 0.0) for p in PRECISIONS}, lower=0.0, upper=0.0)


def estimate_ops(*, busy_seconds: float, unknown_util_seconds: float, rates_tflops: Mapping[str, float] | None,
                 mfu_floor: float) -> OpsRange:
    """The operations range for one chip's busy time (see the module docstring for the model).

    ``rates_tflops``: dense peak rates by catalog precision; a chip without FP8 is bounded at
    its FP16/BF16 rate; None or no FP16 rate means the chip's rate is not catalogued.
    """
    if not 0 < mfu_floor <= 1:
        raise ValueError(f"mfu_floor must be in (0, 1], not {mfu_floor!r}")
    fp16 = (rates_tflops or {}).get("fp16")
    if fp16 is None:
        return OpsRange(by_precision={}, lower=0.0, upper=None if busy_seconds + unknown_util_seconds else 0.0,
                        uncatalogued_busy_seconds=busy_seconds + unknown_util_seconds)
    peaks = {"fp16": fp16, "fp8": rates_tflops.get("fp8") or fp16}
    by_precision = {p: (peak * TERA * (busy_seconds + unknown_util_seconds), mfu_floor * peak * TERA * busy_seconds)
                    for p, peak in peaks.items()}
    return OpsRange(by_precision=by_precision, lower=by_precision["fp16"][1], upper=by_precision["fp8"][0])


# --------------------------------------------------------------------------- thresholds


class Verdict(StrEnum):
    EXCEEDED = "exceeded"          # even the lower bound is above the threshold
    NOT_REACHED = "not_reached"    # even the upper bound is below it
    UNDETERMINED = "undetermined"  # the range straddles it (or has no upper bound)


@dataclass(frozen=True)
class Threshold:
    key: str
    kind: str  # "operations" | "headquarters"
    title: str
    citation: str
    effective: date
    status: str  # "in_force" | "not_enforced"
    note: str
    value: float | None = None
    groups: tuple[str, ...] = ()

    def compare(self, ops: OpsRange) -> Verdict:
        if self.kind != "operations":
            raise ValueError(f"{self.key} is not an operations threshold")
        if ops.lower > self.value:
            return Verdict.EXCEEDED
        if ops.upper is not None and ops.upper <= self.value:
            return Verdict.NOT_REACHED
        return Verdict.UNDETERMINED


class ThresholdDataError(ValueError):
    pass


def load_thresholds(path: Path | str = THRESHOLDS_PATH) -> tuple[Threshold, ...]:
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    out = []
    for entry in document.get("thresholds", []):
        key = entry.get("key", "?")
        missing = [f for f in ("key", "kind", "title", "citation", "effective", "status", "note") if not entry.get(f)]
        if missing:
            raise ThresholdDataError(f"threshold {key!r}: missing {', '.join(missing)}")
        if not isinstance(entry["effective"], date):
            raise ThresholdDataError(f"threshold {key!r}: 'effective' must be a date")
        if entry["kind"] == "operations" and not isinstance(entry.get("value"), int | float):
            raise ThresholdDataError(f"threshold {key!r}: an operations threshold needs a numeric value")
        if entry["kind"] == "headquarters" and not entry.get("groups"):
            raise ThresholdDataError(f"threshold {key!r}: a headquarters red flag needs country groups")
        if entry["kind"] not in ("operations", "headquarters"):
            raise ThresholdDataError(f"threshold {key!r}: unknown kind {entry['kind']!r}")
        out.append(Threshold(key=key, kind=entry["kind"], title=entry["title"], citation=" ".join(entry["citation"].split()),
                             effective=entry["effective"], status=entry["status"], note=" ".join(entry["note"].split()),
                             value=float(entry["value"]) if entry.get("value") is not None else None,
                             groups=tuple(entry.get("groups", ()))))
    return tuple(out)


# --------------------------------------------------------------------------- NVLink fabrics


def fabrics(peers: Mapping[int, Iterable[object]]) -> dict[int, int]:
    """GPU id → its NVLink fabric, named by the lowest GPU id in it: the connected components of
    the graph in which a GPU is joined to every endpoint it names (its own PCI address, the
    addresses its links reach — another GPU or an NVSwitch — and its multi-node fabric clique).
    GPUs that share no endpoint with another GPU are in no fabric (left out)."""
    parent: dict[object, object] = {}

    def root(node):
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for gpu_id, endpoints in peers.items():
        for endpoint in endpoints:
            a, b = root(("gpu", gpu_id)), root(endpoint)
            if a != b:
                parent[a] = b
    members: dict[object, list[int]] = defaultdict(list)
    for gpu_id in peers:
        members[root(("gpu", gpu_id))].append(gpu_id)
    return {gpu_id: min(group) for group in members.values() if len(group) > 1 for gpu_id in group}


# --------------------------------------------------------------------------- training runs


@dataclass(frozen=True)
class Hour:
    """One bucket of one cluster, as run detection reads it."""

    start: datetime
    training_gpus: int
    training_gpu_seconds: float
    ops: OpsRange
    first_sample_id: int | None = None
    last_sample_id: int | None = None


@dataclass(frozen=True)
class Run:
    start: datetime
    end: datetime
    peak_gpus: int
    min_gpus: int
    gpu_hours: float
    ops: OpsRange
    first_sample_id: int | None
    last_sample_id: int | None
    hours: int

    @property
    def gpu_count(self) -> int:
        return self.peak_gpus


def detect_runs(hours: Sequence[Hour], *, min_gpus: int, min_hours: int, max_interruption_hours: int = 0,
                bucket_seconds: int = BUCKET_SECONDS) -> list[Run]:
    """Contiguous stretches of buckets with at least ``min_gpus`` training-like GPUs, lasting at
    least ``min_hours``; up to ``max_interruption_hours`` below the bar (a restart after a
    hardware fault) do not end a run, and a missing bucket counts as below the bar.
    GPU-hours and operations are those of the qualifying buckets' training-like GPUs."""
    step = timedelta(seconds=bucket_seconds)
    qualifying = sorted((h for h in hours if h.training_gpus >= min_gpus), key=lambda h: h.start)
    groups: list[list[Hour]] = []
    for hour in qualifying:
        if groups and hour.start - groups[-1][-1].start <= step * (max_interruption_hours + 1):
            groups[-1].append(hour)
        else:
            groups.append([hour])
    runs = []
    for group in groups:
        span = int((group[-1].start - group[0].start) / step) + 1
        if span < min_hours:
            continue
        ops = NO_OPS
        for hour in group:
            ops = ops + hour.ops
        firsts = [h.first_sample_id for h in group if h.first_sample_id is not None]
        lasts = [h.last_sample_id for h in group if h.last_sample_id is not None]
        runs.append(Run(start=group[0].start, end=group[-1].start + step,
                        peak_gpus=max(h.training_gpus for h in group), min_gpus=min(h.training_gpus for h in group),
                        gpu_hours=sum(h.training_gpu_seconds for h in group) / 3600, ops=ops,
                        first_sample_id=min(firsts, default=None), last_sample_id=max(lasts, default=None),
                        hours=span))
    return runs
