"""Cluster figures and an explained 0-100 risk score.

The score is a triage aid, not a legal test: every point comes from a named contribution
with its citation, and the points sum exactly to the score.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date

from .catalog import H100_TPP, Chip
from .classify import InsufficientSpec, classify
from .regimes import (
    AI_DIFFUSION_2025,
    GP10_GUIDANCE,
    SUPERCOMPUTER_FP32,
    SUPERCOMPUTER_FP64,
    regime_in_force,
    rounded,
)

# Weights of the risk contributions; they add up to 100.
CONTROLLED_SHARE_POINTS = 35
LICENCE_GAP_POINTS = 25
SUPERCOMPUTER_POINTS = 20
SCALE_POINTS = 10
PRC_MADE_POINTS = 5
UNCLASSIFIED_POINTS = 5

# Yardstick for "large": the AI Diffusion LPP allowance per consignee and year (90 FR 4544).
LARGE_CLUSTER_H100_EQUIVALENTS = AI_DIFFUSION_2025.ai_diffusion.lpp_h100_equivalents


@dataclass(frozen=True)
class Contribution:
    points: int
    reason: str
    citation: str


@dataclass(frozen=True)
class LicenceGap:
    """What the licence determination found: models that need a licence with none on record.

    The score takes it from the caller's determination rather than guessing from the 3A090
    classification, so a chip needing a licence for another reason (an is-informed notice, a
    party's headquarters) scores as unlicensed exactly when the determination says so.
    """

    models: tuple[str, ...]
    review_policy: str | None
    citation: str


@dataclass(frozen=True)
class ClusterScore:
    as_of: date
    rule: str | None
    gpus_by_model: tuple[tuple[str, int], ...]
    gpu_count: int
    aggregate_tpp: float
    h100_equivalents: float
    fp64_petaflops: float
    fp32_petaflops: float
    models_without_fp64_fp32: tuple[str, ...]
    supercomputer_fp64: bool
    supercomputer_fp32: bool
    controlled_gpus: int
    controlled_share: float
    unclassified_models: tuple[str, ...]
    tpp_unknown_models: tuple[str, ...]
    risk_score: int
    contributions: tuple[Contribution, ...]

    def to_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "rule": self.rule,
            "gpus_by_model": dict(self.gpus_by_model),
            "gpu_count": self.gpu_count,
            "aggregate_tpp": self.aggregate_tpp,
            "h100_equivalents": self.h100_equivalents,
            "fp64_petaflops": self.fp64_petaflops,
            "fp32_petaflops": self.fp32_petaflops,
            "models_without_fp64_fp32": list(self.models_without_fp64_fp32),
            "supercomputer": {
                "fp64": {"met": self.supercomputer_fp64, "threshold": str(SUPERCOMPUTER_FP64), "citation": SUPERCOMPUTER_FP64.citation},
                "fp32": {"met": self.supercomputer_fp32, "threshold": str(SUPERCOMPUTER_FP32), "citation": SUPERCOMPUTER_FP32.citation},
            },
            "controlled_gpus": self.controlled_gpus,
            "controlled_share": self.controlled_share,
            "unclassified_models": list(self.unclassified_models),
            "tpp_unknown_models": list(self.tpp_unknown_models),
            "risk_score": self.risk_score,
            "contributions": [asdict(c) for c in self.contributions],
        }


def score_cluster(inventory: Iterable[tuple[Chip, int]], *, as_of: date,
                  licence_gap: LicenceGap | None = None) -> ClusterScore:
    """Figures and risk for a set of GPUs, e.g. one cluster: ``[(chip, count), ...]``.

    ``licence_gap``: the licence determination says these models need a licence and none is on
    record (None: nothing is missing, or no destination was determined).
    """
    counts: Counter[str] = Counter()
    chips: dict[str, Chip] = {}
    for chip, count in inventory:
        if count < 0:
            raise ValueError(f"negative count for {chip.key}")
        counts[chip.key] += count
        chips[chip.key] = chip
    models = sorted(k for k in counts if counts[k])
    gpu_count = sum(counts[k] for k in models)

    aggregate_tpp = sum(chips[k].tpp * counts[k] for k in models if chips[k].tpp is not None)
    fp64 = sum(chips[k].rates["fp64"] * counts[k] for k in models if "fp64" in chips[k].rates) / 1000
    fp32 = sum(chips[k].rates["fp32"] * counts[k] for k in models if "fp32" in chips[k].rates) / 1000
    without_rates = tuple(k for k in models if not {"fp64", "fp32"} <= chips[k].rates.keys())

    controlled_models, unclassified = [], []
    for key in models:
        try:
            if classify(chips[key], as_of).controlled:
                controlled_models.append(key)
        except InsufficientSpec:
            unclassified.append(key)
    controlled = sum(counts[k] for k in controlled_models)
    share = controlled / gpu_count if gpu_count else 0.0
    gp10_in_force = as_of >= GP10_GUIDANCE.effective

    regime = regime_in_force(as_of)
    h100_equivalents = aggregate_tpp / H100_TPP
    contributions = _contributions(
        share=share,
        controlled=controlled,
        licence_gap=licence_gap,
        fp64_petaflops=fp64,
        fp32_petaflops=fp32,
        h100_equivalents=h100_equivalents,
        prc_made=[k for k in controlled_models if chips[k].prc_made] if gp10_in_force else [],
        unclassified=unclassified,
        rule=regime.citation if regime else None,
    )
    return ClusterScore(
        as_of=as_of,
        rule=regime.citation if regime else None,
        gpus_by_model=tuple((k, counts[k]) for k in models),
        gpu_count=gpu_count,
        aggregate_tpp=rounded(float(aggregate_tpp)),
        h100_equivalents=rounded(float(h100_equivalents)),
        fp64_petaflops=rounded(float(fp64)),
        fp32_petaflops=rounded(float(fp32)),
        models_without_fp64_fp32=without_rates,
        supercomputer_fp64=SUPERCOMPUTER_FP64.holds(fp64),
        supercomputer_fp32=SUPERCOMPUTER_FP32.holds(fp32),
        controlled_gpus=controlled,
        controlled_share=rounded(float(share)),
        unclassified_models=tuple(unclassified),
        tpp_unknown_models=tuple(k for k in models if chips[k].tpp is None),
        risk_score=sum(c.points for c in contributions),
        contributions=contributions,
    )


def _contributions(
    *,
    share: float,
    controlled: int,
    licence_gap: LicenceGap | None,
    fp64_petaflops: float,
    fp32_petaflops: float,
    h100_equivalents: float,
    prc_made: list[str],
    unclassified: list[str],
    rule: str | None,
) -> tuple[Contribution, ...]:
    contributions = []
    if controlled:
        contributions.append(
            Contribution(
                round(CONTROLLED_SHARE_POINTS * share),
                f"{share:.0%} of GPUs are classified under 3A090",
                f"{rule}, ECCN 3A090",
            )
        )
    if licence_gap is not None:
        policy = f" ({licence_gap.review_policy})" if licence_gap.review_policy else ""
        contributions.append(
            Contribution(
                LICENCE_GAP_POINTS,
                f"licence required and none on record for {', '.join(licence_gap.models)}{policy}",
                licence_gap.citation,
            )
        )
    proximity = min(
        1.0,
        max(
            fp64_petaflops / SUPERCOMPUTER_FP64.limit,
            fp32_petaflops / SUPERCOMPUTER_FP32.limit,
        ),
    )
    supercomputer_points = round(SUPERCOMPUTER_POINTS * proximity)
    if supercomputer_points:
        contributions.append(
            Contribution(
                supercomputer_points,
                f"{proximity:.0%} of the 'supercomputer' line ({fp64_petaflops:.1f} FP64 PF of "
                f"{SUPERCOMPUTER_FP64.limit}, {fp32_petaflops:.1f} FP32 PF of {SUPERCOMPUTER_FP32.limit})",
                SUPERCOMPUTER_FP64.citation,
            )
        )
    if h100_equivalents >= LARGE_CLUSTER_H100_EQUIVALENTS:
        contributions.append(
            Contribution(
                SCALE_POINTS,
                f"{h100_equivalents:,.0f} H100-equivalents, at or above the {LARGE_CLUSTER_H100_EQUIVALENTS:,} "
                "per-consignee LPP allowance",
                AI_DIFFUSION_2025.ai_diffusion.lpp_citation,
            )
        )
    if prc_made:
        contributions.append(
            Contribution(PRC_MADE_POINTS, f"PRC-made 3A090-class chips present: {', '.join(prc_made)}", GP10_GUIDANCE.citation)
        )
    if unclassified:
        contributions.append(
            Contribution(
                UNCLASSIFIED_POINTS,
                f"chips that cannot be classified from their spec: {', '.join(unclassified)}",
                f"{rule}, ECCN 3A090",
            )
        )
    return tuple(contributions)
