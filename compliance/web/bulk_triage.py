"""Bulk triage from the findings list: one step, one note and one assignee for every selected finding.

All or nothing: each finding moves through compliance.findings.finding_triage (its own event, the same
note) inside one transaction, so one finding that cannot take the step leaves every finding as it was.
"""
from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.db import transaction

from ..access.scope import Capability, Scope, user_scope
from ..findings import TriageError, finding_triage
from ..models import Finding

FINDING_SCOPE = ("organization", "cluster__operator")
MAX_FINDINGS = 500


class BulkTriageForm(forms.Form):
    findings = forms.ModelMultipleChoiceField(queryset=Finding.objects.none(), widget=forms.MultipleHiddenInput,
                                              error_messages={"required": "select at least one finding"})
    to_status = forms.ChoiceField(label="Move selected to", choices=Finding.Status.choices)
    note = forms.CharField(max_length=5000, label="Note (kept in each finding's history)",
                           widget=forms.TextInput(attrs={"size": 50}))
    assignee = forms.ModelChoiceField(queryset=get_user_model().objects.none(), label="Assignee")

    def __init__(self, *args, triage_scope: Scope, assignees, **kwargs):
        super().__init__(*args, **kwargs)
        self.triage_scope = triage_scope
        self.fields["findings"].queryset = triage_scope.filter(
            Finding.objects.select_related("cluster"), FINDING_SCOPE)
        self.fields["assignee"].queryset = assignees

    def clean_findings(self):
        findings = self.cleaned_data["findings"]
        if len(findings) > MAX_FINDINGS:
            raise forms.ValidationError(f"at most {MAX_FINDINGS} findings per step")
        return findings

    def clean(self):
        cleaned = super().clean()
        assignee, findings = cleaned.get("assignee"), cleaned.get("findings")
        if assignee is not None and findings:
            theirs = user_scope(assignee, Capability.TRIAGE)
            outside = [f for f in findings if not theirs.contains(f, FINDING_SCOPE)]
            if outside:
                self.add_error("assignee", f"{assignee.get_username()} cannot triage finding "
                                           f"{', '.join(f'#{f.pk}' for f in outside[:5])}")
        return cleaned


def findings_bulk_triage(*, findings, actor, to_status: str, note: str, assignee) -> int:
    """Every finding one step, or none (TriageError names the first that cannot take it)."""
    with transaction.atomic():
        for finding in sorted(findings, key=lambda f: f.pk):
            try:
                finding_triage(finding=finding, actor=actor, to_status=to_status, note=note, assignee=assignee)
            except TriageError as exc:
                raise TriageError(f"finding #{finding.pk} ({finding.title}): {exc}") from exc
    return len(findings)
