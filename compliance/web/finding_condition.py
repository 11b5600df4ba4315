"""Whether a finding's condition still holds now, shown on the triage form before an officer resolves it.

Resolving a finding whose condition still holds only silences it until the next evaluation re-opens it.  Where
the system itself decides that a condition ended (licence_gap, from the cluster score's licence determination:
services._licence_gaps_sync), the same stored determination answers here, read-only.  For every other kind no
stored determination says so, and the answer is undetermined with what is missing: a detector run after the
finding's last sighting.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..detectors import licence_gap
from ..models import ClusterScore, Finding


@dataclass(frozen=True)
class Condition:
    holds: bool | None  # None: undetermined
    as_of: datetime | None
    reason: str


def finding_condition_now(*, finding: Finding) -> Condition:
    if finding.kind == licence_gap.KIND and finding.cluster_id is not None:
        return _licence_gap_condition(finding)
    return Condition(None, finding.last_seen,
                     "no stored determination re-checks this condition on its own; the detector last "
                     "saw it at the time given, and if it still holds it re-opens the finding when it sees it again")


def _licence_gap_condition(finding: Finding) -> Condition:
    score = (ClusterScore.objects.filter(cluster_id=finding.cluster_id).order_by("-as_of", "-computed_at")
             .only("as_of", "computed_at", "figures").first())
    if score is None:
        return Condition(None, None, "the cluster has not been scored yet")
    figures = score.figures
    state = (figures.get("licence") or {}).get("state")
    if state == licence_gap.REQUIRED_UNLICENSED:
        return Condition(True, score.computed_at,
                         f"the cluster's score of {score.as_of} still says a licence is required and none is on "
                         "record: resolving re-opens this finding when the cluster is next scored")
    ended = licence_gap.ended_evidence(figures)
    if ended:
        return Condition(False, score.computed_at, ended)
    return Condition(None, score.computed_at,
                     f"the cluster's score of {score.as_of} could not determine whether a licence "
                     "is required (unidentified GPUs or an undetermined rule; see the cluster page)")
