from django import forms

from ..access.scope import Capability, users_with
from ..findings import TRANSITIONS
from ..models import Finding


class TriageForm(forms.Form):
    """One triage step from the finding's current status: a note and an assignee are mandatory."""

    to_status = forms.ChoiceField(label="Move to")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000,
                           help_text="Why: kept in the finding's history")
    assignee = forms.ModelChoiceField(queryset=None, help_text="Who owns the finding after this step")

    def __init__(self, *args, finding: Finding, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = TRANSITIONS.get(finding.status, set())
        self.fields["to_status"].choices = [(value, label) for value, label in Finding.Status.choices
                                            if value in allowed]
        self.fields["assignee"].queryset = users_with(Capability.TRIAGE,
                                                      [finding.organization_id, finding.cluster_operator_id])
        if finding.assignee_id:
            self.fields["assignee"].initial = finding.assignee_id
