"""Findings: the filtered list with bulk triage, and one finding with its evidence, figures and triage."""
import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, Prefetch
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import DetailView, ListView

from inventory.models import Observation

from ... import filtersets
from ...access.scope import Capability, ScopedQuerysetMixin, users_with
from ...findings import TriageError, finding_triage
from ...models import Finding, FindingEvent
from .. import selectors
from ..bulk_triage import BulkTriageForm, findings_bulk_triage
from ..figures import figure_rows
from ..finding_condition import finding_condition_now
from ..forms import TriageForm
from .base import OBSERVATION_SCOPE, FilteredListMixin, StaffRoleRequiredMixin


class FindingListView(StaffRoleRequiredMixin, ScopedQuerysetMixin, FilteredListMixin, ListView):
    queryset = Finding.objects.select_related("cluster", "organization", "assignee")
    filterset_class = filtersets.FindingFilterSet
    scope_lookups = selectors.FINDING_SCOPE
    template_name = "web/finding_list.html"

    def _bulk_form(self, data=None):
        scope = self.triage_scope
        if not scope.granted:
            return None
        organization_ids = None if scope.everything else scope.organization_ids
        assignees = users_with(Capability.TRIAGE, organization_ids or [])
        return BulkTriageForm(data, triage_scope=scope, assignees=assignees)

    def post(self, request, *args, **kwargs):
        """Bulk triage; refused (403) to viewers without the officer role."""
        form = self._bulk_form(request.POST)
        if form is None:
            raise PermissionDenied("triage needs an officer or admin role")
        if form.is_valid():
            data = form.cleaned_data
            try:
                moved = findings_bulk_triage(findings=list(data["findings"]), actor=request.user,
                                             to_status=data["to_status"], note=data["note"], assignee=data["assignee"])
            except TriageError as exc:
                form.add_error(None, f"nothing was changed: {exc}")
            else:
                messages.success(request, f"{moved} finding(s) moved to {data['to_status'].replace('_', ' ')}.")
                return redirect(f"{reverse('web:findings')}?{request.GET.urlencode()}")
        self.object_list = self.get_queryset()
        return self.render_to_response(self.get_context_data(bulk_form=form))

    def get_context_data(self, **kwargs):
        kwargs.setdefault("bulk_form", self._bulk_form())
        return super().get_context_data(**kwargs)


class FindingDetailView(StaffRoleRequiredMixin, ScopedQuerysetMixin, DetailView):
    queryset = (Finding.objects.select_related("cluster", "organization", "assignee")
                .annotate(cluster_operator_id=F("cluster__operator_id"))
                .prefetch_related(Prefetch("events", queryset=FindingEvent.objects.select_related("actor"))))
    scope_lookups = selectors.FINDING_SCOPE
    template_name = "web/finding_detail.html"

    def post(self, request, *args, **kwargs):
        """A triage step; refused (403) to viewers without the officer role over this family."""
        self.object = finding = self.get_object()
        if not self.triage_scope.contains(finding, self.scope_lookups):
            raise PermissionDenied("triage needs an officer or admin role over this organization family")
        form = TriageForm(request.POST, finding=finding)
        if form.is_valid():
            try:
                finding_triage(finding=finding, actor=request.user, to_status=form.cleaned_data["to_status"],
                               note=form.cleaned_data["note"], assignee=form.cleaned_data["assignee"])
            except TriageError as exc:
                form.add_error("to_status", str(exc))
            else:
                messages.success(request, f"Finding moved to {form.cleaned_data['to_status'].replace('_', ' ')}.")
                return redirect(reverse("web:finding", args=[finding.pk]))
        return self.render_to_response(self.get_context_data(form=form))

    def get_context_data(self, **kwargs):
        finding = self.object
        if "form" not in kwargs and self.triage_scope.contains(finding, self.scope_lookups):
            kwargs["form"] = TriageForm(finding=finding)
        evidence = finding.evidence if isinstance(finding.evidence, dict) else {}
        observations = (self.read_scope.filter(Observation.objects.filter(id__in=evidence.get("observation_ids", [])),
                                               OBSERVATION_SCOPE)
                        .select_related("host").defer("payload").order_by("-collected_at"))
        figures = evidence.get("figures", {})
        return super().get_context_data(
            condition=finding_condition_now(finding=finding),
            evidence_observations=observations,
            figure_rows=figure_rows(figures),
            figures_json=json.dumps(figures, indent=2, sort_keys=True),
            **kwargs)
