"""aggregation — compute split across clusters that, added up, crosses a line none crosses alone.

Patterns.

* Clusters under one ultimate parent whose latest ClusterScore figures sum past a line that
  each cluster alone stays under: the "supercomputer" lines of 15 CFR 772.1 (>= 100 FP64 or
  >= 200 FP32 petaflops, 87 FR 62186; the core's SUPERCOMPUTER_FP64/FP32) and the AI
  Diffusion LPP allowance per consignee and year (about 1,699 H100-equivalents, 90 FR 4544;
  CHIPWATCH_AGGREGATION_H100_EQUIVALENTS).  The supercomputer test is per 41,600 ft³
  envelope, so clusters of one site crossing it together weigh more than a family spread
  over sites; the LPP allowance is per consignee, wherever the clusters are.
* Clusters tied together by one NVLink fabric: GPUs of different clusters reporting the same
  fabric cluster UUID (``Gpu.fabric_cluster_uuid``, from NVML's fabric info) are one NVLink
  domain, however the paperwork splits them.

Red flag.  Supp. No. 3 to part 732 red flags on supercomputer end use (a customer who
"intends to develop or produce 'supercomputers'") and the May 13 2025 BIS
guidance (orders split to stay under thresholds; BIS, Industry Guidance to Prevent Diversion of Advanced Computing ICs, May 13 2025).  The AI Diffusion rule is not
enforced since May 13 2025 (``determine_license``'s default), so its line is a yardstick.

Evidence.  The clusters with their figures and ClusterScore ids, the family totals against
the line, and the full-identity observations that last described each cluster's GPUs.

Severity.  High when one site's clusters together cross a supercomputer line, or when one
fabric spans clusters; medium when only the family's clusters across sites cross it; the
LPP allowance is low while AI Diffusion is not enforced (medium if it is).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, F, Max, Window
from django.db.models.functions import RowNumber

from inventory.models import Gpu

from ..core.destinations import AI_DIFFUSION_ENFORCED_DEFAULT
from ..core.regimes import AI_DIFFUSION_2025, SUPERCOMPUTER_FP32, SUPERCOMPUTER_FP64
from ..findings import FindingSpec
from ..models import ClusterScore
from ..selectors import families
from ._fleet import Severity, Subject, host_places, in_scope

KIND_FAMILY = "aggregation.family"
KIND_FABRIC = "aggregation.fabric"
FABRIC_CITATION = ("87 FR 62186, 15 CFR 772.1 'supercomputer' and 744.23; 15 CFR part 732 Supp. No. 3 "
                   "(supercomputer red flags)")
NO_FABRIC = ("", "00000000-0000-0000-0000-000000000000")


@dataclass(frozen=True)
class Line:
    name: str
    figure: str
    limit: float
    citation: str
    per_site: bool  # whether clusters of one site crossing it together weigh more


def lines() -> tuple[Line, ...]:
    return (
        Line("supercomputer_fp64", "fp64_petaflops", SUPERCOMPUTER_FP64.limit, SUPERCOMPUTER_FP64.citation, True),
        Line("supercomputer_fp32", "fp32_petaflops", SUPERCOMPUTER_FP32.limit, SUPERCOMPUTER_FP32.citation, True),
        Line("lpp_allowance", "h100_equivalents", settings.CHIPWATCH_AGGREGATION_H100_EQUIVALENTS,
             AI_DIFFUSION_2025.ai_diffusion.lpp_citation, False),
    )


@dataclass(frozen=True)
class ClusterFigures:
    cluster_id: int
    family_id: int
    site_id: int
    score_id: int
    figures: dict


@dataclass(frozen=True)
class Crossing:
    line: Line
    family_id: int
    clusters: tuple[ClusterFigures, ...]
    total: float
    one_site_crosses: bool

    @property
    def severity(self) -> int:
        if not self.line.per_site:
            return Severity.MEDIUM if AI_DIFFUSION_ENFORCED_DEFAULT else Severity.LOW
        return Severity.HIGH if self.one_site_crosses else Severity.MEDIUM


def crossings(rows: Iterable[ClusterFigures], checked: Iterable[Line]) -> list[Crossing]:
    """Families whose clusters sum to a line that no single cluster of theirs reaches."""
    by_family = defaultdict(list)
    for row in rows:
        by_family[row.family_id].append(row)
    found = []
    for line in checked:
        for family_id, clusters in by_family.items():
            values = [c.figures.get(line.figure) or 0 for c in clusters]
            if len(clusters) < 2 or sum(values) < line.limit or max(values) >= line.limit:
                continue
            by_site = defaultdict(float)
            for cluster, value in zip(clusters, values):
                by_site[cluster.site_id] += value
            found.append(Crossing(line, family_id, tuple(clusters), sum(values),
                                  max(by_site.values()) >= line.limit))
    return found


def detect(*, host_ids: list[int] | None) -> Iterable[FindingSpec]:
    yield from _family_totals(host_ids)
    yield from _shared_fabrics(host_ids)


def _family_totals(host_ids: list[int] | None) -> Iterable[FindingSpec]:
    family_of = families()
    latest = (ClusterScore.objects.annotate(rank=Window(RowNumber(), partition_by=[F("cluster_id")],
                                                        order_by=[F("as_of").desc(), F("id").desc()]))
              .filter(rank=1).values_list("id", "cluster_id", "cluster__operator_id", "cluster__site_id", "figures"))
    rows = [ClusterFigures(cluster_id, family_of[operator_id].ultimate_parent_id, site_id, score_id, figures)
            for score_id, cluster_id, operator_id, site_id, figures in latest]
    if host_ids is not None:
        touched = {place.operator_id for place in host_places(host_ids).values() if place.operator_id}
        families_touched = {family_of[org].ultimate_parent_id for org in touched}
        rows = [row for row in rows if row.family_id in families_touched]
    found = crossings(rows, lines())
    observations = _last_observations({c.cluster_id for crossing in found for c in crossing.clusters})
    for crossing in found:
        line = crossing.line
        yield FindingSpec(
            kind=KIND_FAMILY,
            severity=crossing.severity,
            subject_type=Subject.ORGANIZATION,
            subject_id=crossing.family_id,
            dedup_key=f"{KIND_FAMILY}:{line.name}:org{crossing.family_id}",
            title=(f"{len(crossing.clusters)} clusters of one parent add up to {crossing.total:,.1f} "
                   f"{line.figure.replace('_', ' ')} (line {line.limit:,.0f}), none of them alone"),
            citation=line.citation,
            observation_ids=tuple(obs for c in crossing.clusters for obs in observations[c.cluster_id]),
            figures={"line": line.name, "figure": line.figure, "limit": line.limit, "total": crossing.total,
                     "one_site_crosses": crossing.one_site_crosses,
                     "clusters": [{"cluster_id": c.cluster_id, "site_id": c.site_id, "score_id": c.score_id,
                                   line.figure: c.figures.get(line.figure)} for c in crossing.clusters]},
            organization_id=crossing.family_id,
        )


def _shared_fabrics(host_ids: list[int] | None) -> Iterable[FindingSpec]:
    fabric_gpus = Gpu.objects.filter(host__cluster__isnull=False).exclude(fabric_cluster_uuid__in=NO_FABRIC)
    shared = (fabric_gpus.values("fabric_cluster_uuid").annotate(clusters=Count("host__cluster_id", distinct=True))
              .filter(clusters__gte=2))
    if host_ids is not None:
        shared = shared.filter(fabric_cluster_uuid__in=in_scope(fabric_gpus, host_ids).values("fabric_cluster_uuid"))
    members = defaultdict(list)
    for row in (fabric_gpus.filter(fabric_cluster_uuid__in=shared.values("fabric_cluster_uuid"))
                .values("fabric_cluster_uuid", cluster_id=F("host__cluster_id"), operator_id=F("host__cluster__operator_id"))
                .annotate(gpus=Count("id"), observation_id=Max("last_observation_id")).order_by("cluster_id")):
        members[row["fabric_cluster_uuid"]].append(row)
    family_of = families()
    for fabric, clusters in members.items():
        parents = {family_of[c["operator_id"]].ultimate_parent_id for c in clusters}
        yield FindingSpec(
            kind=KIND_FABRIC,
            severity=Severity.HIGH,
            subject_type=Subject.CLUSTER,
            subject_id=clusters[0]["cluster_id"],
            dedup_key=f"{KIND_FABRIC}:{fabric}",
            title=f"{len(clusters)} clusters share one NVLink fabric ({sum(c['gpus'] for c in clusters)} GPUs)",
            citation=FABRIC_CITATION,
            observation_ids=tuple(c["observation_id"] for c in clusters if c["observation_id"]),
            figures={"fabric_cluster_uuid": fabric, "ultimate_parents": sorted(parents),
                     "clusters": [{"cluster_id": c["cluster_id"], "gpus": c["gpus"]} for c in clusters]},
            cluster_id=clusters[0]["cluster_id"],
            organization_id=parents.pop() if len(parents) == 1 else None,
        )


def _last_observations(cluster_ids: set[int]) -> dict[int, set[int]]:
    """Cluster id → the full-identity observations that last described its GPUs."""
    found = defaultdict(set)
    for cluster_id, observation_id in (Gpu.objects.filter(host__cluster_id__in=cluster_ids,
                                                          last_observation__isnull=False)
                                       .values_list("host__cluster_id", "last_observation_id").distinct()):
        found[cluster_id].add(observation_id)
    return found
