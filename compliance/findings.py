"""Raising and triaging findings: the one place their lifecycle rules live."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from .models import Finding, FindingEvent
from .notifications.services import finding_notifications_queue

# Allowed triage steps: open → acknowledged → resolved | false positive (and re-opening).
TRANSITIONS = {
    Finding.Status.OPEN: {Finding.Status.ACKNOWLEDGED, Finding.Status.RESOLVED, Finding.Status.FALSE_POSITIVE},
    Finding.Status.ACKNOWLEDGED: {Finding.Status.RESOLVED, Finding.Status.FALSE_POSITIVE, Finding.Status.OPEN},
    Finding.Status.RESOLVED: {Finding.Status.OPEN},
    Finding.Status.FALSE_POSITIVE: {Finding.Status.OPEN},
}


class TriageError(ValueError):
    pass


@dataclass(frozen=True)
class FindingSpec:
    """What a detector saw: everything needed to raise or refresh one finding."""

    kind: str
    severity: int
    subject_type: str
    subject_id: int
    dedup_key: str
    title: str
    citation: str
    observation_ids: tuple[int, ...] = ()
    figures: dict = field(default_factory=dict)
    cluster_id: int | None = None
    organization_id: int | None = None


def finding_raise(*, spec: FindingSpec) -> Finding:
    """Create the finding, or refresh it when the same condition is seen again (dedup by key).

    A resolved finding whose condition is seen again is re-opened; one adjudicated a
    false positive stays closed (the adjudication is the officer's call).
    """
    now = timezone.now()
    evidence = {"observation_ids": sorted(set(spec.observation_ids)), "figures": spec.figures}
    with transaction.atomic():
        finding = Finding.objects.select_for_update().filter(dedup_key=spec.dedup_key).first()
        if finding is None:
            finding = Finding.objects.create(
                kind=spec.kind, severity=spec.severity, subject_type=spec.subject_type, subject_id=spec.subject_id,
                cluster_id=spec.cluster_id, organization_id=spec.organization_id, dedup_key=spec.dedup_key,
                title=spec.title[:300], evidence=evidence, citation=spec.citation[:300], first_seen=now, last_seen=now,
            )
            _event(finding, at=now, to_status=finding.status, note="raised")
            finding_notifications_queue(finding=finding)  # critical/high only; sent on commit
            return finding
        finding.last_seen = now
        finding.occurrences += 1
        restated = _restatement(finding, severity=spec.severity, title=spec.title[:300])
        finding.severity = spec.severity
        finding.title = spec.title[:300]
        merged_ids = sorted(set(finding.evidence.get("observation_ids", [])) | set(evidence["observation_ids"]))
        finding.evidence = {"observation_ids": merged_ids[-100:], "figures": spec.figures}
        if finding.status == Finding.Status.RESOLVED:
            _event(finding, at=now, from_status=finding.status, to_status=Finding.Status.OPEN,
                   note="condition seen again after resolution")
            finding.status = Finding.Status.OPEN
        elif restated:
            _event(finding, at=now, from_status=finding.status, to_status=finding.status, note=restated)
        finding.save()
        return finding


def _event(finding: Finding, **fields) -> FindingEvent:
    """A step in the finding's life, with what the finding asserts at that step (an audit as of then reads it)."""
    return FindingEvent.objects.create(finding=finding, title=finding.title, severity=finding.severity,
                                       observation_ids=finding.evidence.get("observation_ids", []), **fields)


def _restatement(finding: Finding, *, severity: int, title: str) -> str:
    """The note for a refresh that changes what the finding asserts ('' when it changes nothing)."""
    changes = []
    if severity != finding.severity:
        label = dict(Finding.Severity.choices)
        changes.append(f"severity {label.get(finding.severity, finding.severity)} → {label.get(severity, severity)}")
    if title != finding.title:
        changes.append(f"title {finding.title!r} → {title!r}")
    return f"restated by the detector: {'; '.join(changes)}" if changes else ""


def finding_triage(*, finding: Finding, actor, to_status: str, note: str, assignee=None) -> Finding:
    """Move a finding one step, with a mandatory note; every step is kept as an event."""
    note = (note or "").strip()
    if not note:
        raise TriageError("a note is required for every triage step")
    with transaction.atomic():
        finding = Finding.objects.select_for_update().get(pk=finding.pk)
        if to_status not in TRANSITIONS.get(finding.status, set()):
            raise TriageError(f"cannot move a finding from {finding.status} to {to_status}")
        _event(finding, at=timezone.now(), actor=actor, from_status=finding.status, to_status=to_status, note=note)
        finding.status = to_status
        if assignee is not None:
            finding.assignee = assignee
        finding.save(update_fields=["status", "assignee"])
        return finding


OPEN_STATES = (Finding.Status.OPEN, Finding.Status.ACKNOWLEDGED)


def finding_condition_ended(*, finding: Finding, evidence: str) -> Finding:
    """The system closes a finding whose condition no longer holds, with an event naming the
    evidence (e.g. the licence now on record).  Findings already closed are left as they are."""
    with transaction.atomic():
        finding = Finding.objects.select_for_update().get(pk=finding.pk)
        if finding.status not in OPEN_STATES:
            return finding
        _event(finding, at=timezone.now(), from_status=finding.status, to_status=Finding.Status.RESOLVED,
               note=f"condition no longer holds: {evidence}")
        finding.status = Finding.Status.RESOLVED
        finding.save(update_fields=["status"])
        return finding
