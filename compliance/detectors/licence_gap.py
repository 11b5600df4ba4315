"""licence_gap — the cluster's licence determination says a licence is required and none is on record.

Pattern.  Not a fleet query of its own: the cluster's score (``services.cluster_figures``)
carries one licence determination per catalog model at the cluster's country for its operator
and site owner (and their ultimate parents), and the licences on record that cover those ECCNs.
The same determination gives the score its "licence required and none on record" points, the
cluster page its licence box, and this finding, so the three cannot disagree.  It is raised
and closed by ``services.clusters_score`` each time the cluster is scored for today: raised
when the gap is there, closed by the system (an event naming the licence, or the rule that no
longer requires one) when it is gone.  A licence required because a party is headquartered in
D:5 or Macau (15 CFR 742.6(a)(6)(iii)(A), 744.23(a)(3)) is this finding too, with the party named.

Rule.  15 CFR 742.6(a)(6) and the other requirements ``determine_license`` applies (is-informed
notices, the headquarters rule, Part 746 embargoes, the Entity List); each model's reasons,
with their citations, are in the evidence.

Evidence.  Each model needing a licence with its GPU count, ECCN, review policy and reasons; the
licences on record at the site; the ClusterScore figures' hash; the full-identity observations
that last described the cluster's GPUs.

Severity.  Critical when the governing review policy is a presumption of denial; high otherwise.
"""
from __future__ import annotations

from ..core.destinations import PRESUMPTION_OF_DENIAL
from ..findings import FindingSpec
from ._fleet import Severity, Subject

KIND = "licence_gap"
CITATION = "15 CFR 742.6(a)(6) and 744.23 (licence determination of the cluster's score)"
# Licence states a cluster's figures carry (services.cluster_figures).
REQUIRED_UNLICENSED = "required_unlicensed"
COVERED = "covered"
NOT_REQUIRED = "not_required"
UNDETERMINED = "undetermined"


def dedup_key(cluster_id: int) -> str:
    return f"{KIND}:cluster{cluster_id}"


def gap_spec(*, cluster, figures: dict, observation_ids: tuple[int, ...]) -> FindingSpec:
    """The finding for a cluster whose figures say licence required and none on record."""
    licence = figures["licence"]
    models = [{"catalog_model": key, "gpus": figures["gpus_by_model"].get(key, 0),
               "eccn": figures["models"][key]["classification"]["eccn"],
               "review_policy": figures["models"][key]["license"]["review_policy"],
               "reasons": figures["models"][key]["license"]["reasons"]} for key in licence["required_models"]]
    headquartered = any("headquartered" in reason for m in models for reason in m["reasons"])
    party = (f" held for a party headquartered in {figures['headquarters']} (ultimate parent "
             f"{figures['ultimate_parent_headquarters']})" if headquartered else "")
    gpus = sum(m["gpus"] for m in models)
    return FindingSpec(
        kind=KIND,
        severity=Severity.CRITICAL if licence["review_policy"] == PRESUMPTION_OF_DENIAL else Severity.HIGH,
        subject_type=Subject.CLUSTER,
        subject_id=cluster.id,
        dedup_key=dedup_key(cluster.id),
        title=(f"{gpus} GPU(s) in {figures['destination']}{party} need a licence "
               f"({licence['review_policy'] or 'policy not published'}) and none is on record"),
        citation=CITATION,
        observation_ids=observation_ids,
        figures={"destination": figures["destination"], "headquarters": figures["headquarters"],
                 "ultimate_parent_headquarters": figures["ultimate_parent_headquarters"],
                 "rule": figures["rule"], "review_policy": licence["review_policy"], "models": models,
                 "licences_on_record": licence["licences_on_record"]},
        cluster_id=cluster.id,
        organization_id=cluster.operator_id,
    )


def ended_evidence(figures: dict) -> str | None:
    """Why the gap no longer holds, or None while it holds (or the figures cannot tell)."""
    licence = figures["licence"]
    if licence["state"] == COVERED:
        return (f"licence(s) on record cover the models that need one: {', '.join(licence['licences_on_record'])} "
                f"(ClusterScore of {figures['as_of']})")
    if licence["state"] == NOT_REQUIRED:
        return (f"no licence required any more at {figures['destination']} under {figures['rule'] or 'no rule'} "
                f"for the GPUs now held ({', '.join(figures['gpus_by_model']) or 'none'}; ClusterScore of "
                f"{figures['as_of']})")
    return None
