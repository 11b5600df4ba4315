"""The officer UI: dashboard, clusters, organizations, findings triage, observations.

Every page needs a login and a role; every object is looked up through the viewer's
scope (compliance.access), so another family's fleet answers 404 here as in the API.
"""
import json

from django.apps import apps
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import F, Prefetch
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import DetailView, ListView, TemplateView

from inventory import filtersets as inventory_filtersets
from inventory import selectors as inventory_selectors
from inventory.models import Gpu, Host, Observation, Organization

from .. import filtersets
from ..access.scope import Capability, ScopedQuerysetMixin, user_roles, user_scope
from ..findings import TriageError, finding_triage
from ..models import ClusterScore, Finding, FindingEvent
from . import charts, selectors
from .forms import TriageForm

OBSERVATION_SCOPE = ("host__cluster__operator",)
SEVERITY_CSS = {label: f"sev-{label}" for _, label in Finding.Severity.choices}


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True
    next_page = "web:dashboard"


class StaffRoleRequiredMixin(LoginRequiredMixin):
    """Logged in, and holding a chipwatch role; a user without one gets 403, not an empty UI."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not user_scope(request.user, Capability.READ).granted:
            raise PermissionDenied("this account has no chipwatch role")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["roles"] = sorted(user_roles(self.request.user))
        return context

    @property
    def read_scope(self):
        return user_scope(self.request.user, Capability.READ)


class FilteredListMixin:
    """A ListView narrowed by a django-filter set whose form the template shows."""

    filterset_class = None
    paginate_by = 50

    def get_queryset(self):
        self.filterset = self.filterset_class(self.request.GET or None, queryset=super().get_queryset(),
                                              request=self.request)
        return self.filterset.qs if self.filterset.is_bound and self.filterset.is_valid() else self.filterset.queryset

    row_annotations: dict = {}

    def paginate_queryset(self, queryset, page_size):
        paginator, page, rows, is_paginated = super().paginate_queryset(queryset, page_size)
        return paginator, page, inventory_selectors.rows_annotate(rows, self.row_annotations), is_paginated

    def get_context_data(self, **kwargs):
        query = self.request.GET.copy()
        query.pop("page", None)
        return super().get_context_data(filter=self.filterset, query=query.urlencode(), **kwargs)


class DashboardView(StaffRoleRequiredMixin, TemplateView):
    template_name = "web/dashboard.html"

    def get_context_data(self, **kwargs):
        scope = self.read_scope
        by_country = selectors.compute_by_country(scope)
        by_family = selectors.compute_by_family(scope)
        weeks, raised, closed = selectors.findings_over_time(scope)
        return super().get_context_data(
            bar_charts=[
                charts.bar_chart("GPUs by model", selectors.gpus_by_model(scope)),
                charts.bar_chart("GPUs by classification", selectors.gpus_by_classification(scope)),
                charts.bar_chart("Aggregate TPP by country", [(r["label"], r["tpp"]) for r in by_country]),
                charts.bar_chart("H100-equivalents by country", [(r["label"], r["h100e"]) for r in by_country]),
                charts.bar_chart("Aggregate TPP by organization family", [(r["label"], r["tpp"]) for r in by_family]),
                charts.bar_chart("H100-equivalents by organization family",
                                 [(r["label"], r["h100e"]) for r in by_family]),
                charts.bar_chart("Unresolved findings by severity", selectors.unresolved_findings(scope, "severity"),
                                 css=SEVERITY_CSS),
                charts.bar_chart("Unresolved findings by kind", selectors.unresolved_findings(scope, "kind")),
            ],
            timeline=charts.line_chart("Findings per week", weeks,
                                       [("raised", "series-raised", raised), ("closed", "series-closed", closed)]),
            by_country=by_country, by_family=by_family, **kwargs)


class ClusterListView(StaffRoleRequiredMixin, ScopedQuerysetMixin, FilteredListMixin, ListView):
    queryset = inventory_selectors.cluster_queryset().order_by("name", "id")
    filterset_class = inventory_filtersets.ClusterFilterSet
    scope_lookups = ("operator",)
    row_annotations = inventory_selectors.CLUSTER_COUNTS
    template_name = "web/cluster_list.html"


class ClusterDetailView(StaffRoleRequiredMixin, ScopedQuerysetMixin, DetailView):
    queryset = inventory_selectors.cluster_queryset()
    scope_lookups = ("operator",)
    template_name = "web/cluster_detail.html"

    def get_object(self, queryset=None):
        return inventory_selectors.rows_annotate([super().get_object(queryset)], inventory_selectors.CLUSTER_COUNTS)[0]

    def get_context_data(self, **kwargs):
        cluster = self.object
        score = ClusterScore.objects.filter(cluster=cluster).order_by("-as_of").first()
        return super().get_context_data(
            hosts=Host.objects.filter(cluster=cluster).order_by("hostname"),
            gpus=(Gpu.objects.filter(host__cluster=cluster).select_related("host", "classification")
                  .order_by("host__hostname", "index")),
            topology=inventory_selectors.nvlink_topology(cluster),
            score=score,
            score_figures_json=json.dumps(score.figures, indent=2, sort_keys=True) if score else "",
            license_status=inventory_selectors.cluster_license_status(cluster, on=timezone.localdate()),
            findings=Finding.objects.filter(cluster=cluster).select_related("assignee"),
            **kwargs)


class OrganizationListView(StaffRoleRequiredMixin, ScopedQuerysetMixin, FilteredListMixin, ListView):
    queryset = inventory_selectors.organization_queryset().order_by("name")
    filterset_class = inventory_filtersets.OrganizationFilterSet
    scope_lookups = ("id",)
    template_name = "web/organization_list.html"


class OrganizationDetailView(StaffRoleRequiredMixin, ScopedQuerysetMixin, DetailView):
    queryset = Organization.objects.all()
    scope_lookups = ("id",)
    template_name = "web/organization_detail.html"

    def get_context_data(self, **kwargs):
        organization = self.object
        chain = organization.ancestors()
        return super().get_context_data(
            chain=chain, ultimate_parent=chain[-1] if chain else organization,
            family=inventory_selectors.organization_family_tree(organization),
            sites=inventory_selectors.rows_annotate(inventory_selectors.site_queryset().filter(
                organization=organization), inventory_selectors.SITE_COUNTS),
            clusters=inventory_selectors.rows_annotate(inventory_selectors.cluster_queryset().filter(
                operator=organization), inventory_selectors.CLUSTER_COUNTS),
            screening=self._screening(organization),
            **kwargs)

    @staticmethod
    def _screening(organization):
        """Screening hits and their adjudications, when the screening app is part of this deployment."""
        if not apps.is_installed("compliance.screening"):
            return None
        hit_model = apps.get_model("screening", "ScreeningHit")
        adjudication_model = apps.get_model("screening", "Adjudication")
        return (hit_model.objects.filter(organization=organization).select_related("entry")
                .prefetch_related(Prefetch("adjudications",
                                           queryset=adjudication_model.objects.select_related("user"))))


class FindingListView(StaffRoleRequiredMixin, ScopedQuerysetMixin, FilteredListMixin, ListView):
    queryset = Finding.objects.select_related("cluster", "organization", "assignee")
    filterset_class = filtersets.FindingFilterSet
    scope_lookups = selectors.FINDING_SCOPE
    template_name = "web/finding_list.html"


class FindingDetailView(StaffRoleRequiredMixin, ScopedQuerysetMixin, DetailView):
    queryset = (Finding.objects.select_related("cluster", "organization", "assignee")
                .annotate(cluster_operator_id=F("cluster__operator_id"))
                .prefetch_related(Prefetch("events", queryset=FindingEvent.objects.select_related("actor"))))
    scope_lookups = selectors.FINDING_SCOPE
    template_name = "web/finding_detail.html"

    def post(self, request, *args, **kwargs):
        """A triage step; refused (403) to viewers without the officer role over this family."""
        self.object = finding = self.get_object()
        if not user_scope(request.user, Capability.TRIAGE).contains(finding, self.scope_lookups):
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
        if "form" not in kwargs and user_scope(self.request.user, Capability.TRIAGE).contains(
                finding, self.scope_lookups):
            kwargs["form"] = TriageForm(finding=finding)
        observation_ids = finding.evidence.get("observation_ids", []) if isinstance(finding.evidence, dict) else []
        evidence = (self.read_scope.filter(Observation.objects.filter(id__in=observation_ids), OBSERVATION_SCOPE)
                    .select_related("host").defer("payload").order_by("-collected_at"))
        return super().get_context_data(
            evidence_observations=evidence,
            figures_json=json.dumps(finding.evidence.get("figures", {}) if isinstance(finding.evidence, dict) else {},
                                    indent=2, sort_keys=True),
            **kwargs)


class ObservationDetailView(StaffRoleRequiredMixin, ScopedQuerysetMixin, DetailView):
    queryset = Observation.objects.select_related("host", "host__cluster", "agent")
    scope_lookups = OBSERVATION_SCOPE
    template_name = "web/observation_detail.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(payload_json=json.dumps(self.object.payload, indent=2, sort_keys=True),
                                        **kwargs)
