"""headquarters — controlled chips held for a party headquartered in D:5 or Macau, unlicensed.

Pattern.  A cluster whose operator or site owner — or either one's ultimate parent — is
headquartered in Country Group D:5 or Macau (membership as of today, from the core's dated
destination data) holding GPUs for which the core's ``determine_license`` answers "licence
required" at the cluster's country, with no licence on record for any of those parties at
that site (or country-wide) naming the ECCN.  The licence requirement follows the party, not
the place: a Singapore cluster of a Chinese-parented company needs one as much as a cluster
in China does.

Red flag / rule.  The headquarters rule, 15 CFR 744.23(a)(3) (88 FR 73458), moved for the
.a items into 15 CFR 742.6(a)(6)(iii)(A) by 90 FR 4544, restated by BIS's May 31 2026
guidance (reference §1.11); BIS's May 13 2025 diversion guidance lists end users
"headquartered in the PRC (or with PRC/Macau ultimate parent)" as a red flag (§2.2).  The
May 31 2026 guidance lets bona fide data-centre operators keep using items already there
"until further notice", so a finding is a question to ask, not a verdict.

Evidence.  The HQ'd party and its country, each controlled model with its GPU count, ECCN,
review policy and the core's reasons, and the full-identity observations that last
described those GPUs.

Severity.  Critical when the review policy is a presumption of denial; high otherwise
(case-by-case, or an is-informed requirement with no published policy).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Count, F, Q
from django.utils import timezone

from inventory.models import Cluster, Gpu

from ..core.destinations import PRESUMPTION_OF_DENIAL, default_destinations
from ..findings import FindingSpec
from ..selectors import families, holding, licence_holders
from ._fleet import Severity, Subject, licences_on_record

KIND = "headquarters"
CITATION = ("15 CFR 742.6(a)(6)(iii)(A) and 744.23(a)(3) (headquarters rule, 88 FR 73458); "
            "BIS guidance of May 31 2026; BIS diversion guidance of May 13 2025")
HQ_GROUPS = ("D:5", "Macau")


def detect(*, host_ids: list[int] | None) -> Iterable[FindingSpec]:
    today = timezone.localdate()
    destinations = default_destinations()
    family_of = families()
    headquartered = {org_id for org_id, family in family_of.items()
                     if destinations.in_any(family.headquarters, HQ_GROUPS, today)
                     or destinations.in_any(family.ultimate_parent_hq, HQ_GROUPS, today)}
    if not headquartered:
        return
    clusters = Cluster.objects.filter(Q(operator_id__in=headquartered) | Q(site__organization_id__in=headquartered))
    if host_ids is not None:
        clusters = clusters.filter(hosts__in=host_ids)
    clusters = {c.id: c for c in clusters.select_related("site").distinct()}
    held = (Gpu.objects.filter(host__cluster_id__in=clusters, classification__catalog_model__gt="")
            .values("host__cluster_id", model=F("classification__catalog_model")).annotate(gpus=Count("id")))
    unlicensed = defaultdict(list)
    for row in held:
        cluster = clusters[row["host__cluster_id"]]
        party = cluster.operator_id if cluster.operator_id in headquartered else cluster.site.organization_id
        family = family_of[party]
        verdict = holding(row["model"], country=cluster.site.country, headquarters=family.headquarters,
                          ultimate_parent_hq=family.ultimate_parent_hq, as_of=today)
        if verdict is None or not verdict.license_required:
            continue
        if licences_on_record(holders=licence_holders(cluster, family_of), country=cluster.site.country,
                              site_id=cluster.site_id, eccn=verdict.eccn, as_of=today):
            continue
        unlicensed[cluster.id].append({
            "catalog_model": row["model"], "gpus": row["gpus"], "eccn": verdict.eccn,
            "review_policy": verdict.determination.review_policy, "reasons": list(verdict.determination.reasons),
            "party_id": party, "party_family": family,
        })
    if not unlicensed:
        return
    observations = defaultdict(set)
    for cluster_id, observation_id in (
            Gpu.objects.filter(host__cluster_id__in=unlicensed, last_observation__isnull=False)
            .values_list("host__cluster_id", "last_observation_id").distinct()):
        observations[cluster_id].add(observation_id)
    for cluster_id, models in unlicensed.items():
        cluster = clusters[cluster_id]
        party, family = models[0]["party_id"], models[0]["party_family"]
        hq = family.headquarters if destinations.in_any(family.headquarters, HQ_GROUPS, today) \
            else family.ultimate_parent_hq
        denial = any(m["review_policy"] == PRESUMPTION_OF_DENIAL for m in models)
        yield FindingSpec(
            kind=KIND,
            severity=Severity.CRITICAL if denial else Severity.HIGH,
            subject_type=Subject.CLUSTER,
            subject_id=cluster_id,
            dedup_key=f"{KIND}:cluster{cluster_id}",
            title=(f"{sum(m['gpus'] for m in models)} licence-requiring GPU(s) held for a party headquartered "
                   f"(or with ultimate parent) in {hq}, no licence on record"),
            citation=CITATION,
            observation_ids=tuple(observations[cluster_id]),
            figures={"party_id": party, "headquarters": family.headquarters,
                     "ultimate_parent_headquarters": family.ultimate_parent_hq,
                     "site_country": cluster.site.country,
                     "models": [{k: v for k, v in m.items() if k not in ("party_id", "party_family")}
                                for m in models]},
            cluster_id=cluster_id,
            organization_id=party,
        )


