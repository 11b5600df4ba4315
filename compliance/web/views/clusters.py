"""Clusters: the list, one cluster's page, and its score history."""
import json

from django.utils import timezone
from django.views.generic import DetailView, ListView

from inventory import filtersets as inventory_filtersets
from inventory import selectors as inventory_selectors
from inventory.models import Gpu, Host

from ...access.scope import ScopedQuerysetMixin
from ...models import ClusterScore, Finding
from .. import charts
from ..compute_panel import compute_panel
from .base import FilteredListMixin, StaffRoleRequiredMixin

CLUSTER_SCOPE = ("operator",)


class ClusterListView(StaffRoleRequiredMixin, ScopedQuerysetMixin, FilteredListMixin, ListView):
    queryset = inventory_selectors.cluster_queryset().order_by("name", "id")
    filterset_class = inventory_filtersets.ClusterFilterSet
    scope_lookups = CLUSTER_SCOPE
    row_annotations = inventory_selectors.CLUSTER_COUNTS
    template_name = "web/cluster_list.html"


class ClusterDetailView(StaffRoleRequiredMixin, ScopedQuerysetMixin, DetailView):
    queryset = inventory_selectors.cluster_queryset()
    scope_lookups = CLUSTER_SCOPE
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
            can_enter_licence=self.triage_scope.contains(cluster, CLUSTER_SCOPE),
            compute=compute_panel(cluster_id=cluster.id, params=self.request.GET),
            **kwargs)


class ClusterScoreHistoryView(StaffRoleRequiredMixin, ScopedQuerysetMixin, DetailView):
    """One score per day (ClusterScore is unique per cluster and as_of): how the figures moved."""

    queryset = inventory_selectors.cluster_queryset()
    scope_lookups = CLUSTER_SCOPE
    template_name = "web/cluster_scores.html"
    history_days = 365

    def get_context_data(self, **kwargs):
        scores = list(ClusterScore.objects.filter(cluster=self.object).order_by("-as_of")
                      .defer("figures")[:self.history_days])
        oldest_first = scores[::-1]
        return super().get_context_data(
            scores=scores,
            risk_chart=charts.line_chart(
                "Risk score per day", [s.as_of.strftime("%d %b") for s in oldest_first],
                [("risk", "series-raised", [s.risk_score for s in oldest_first])]) if scores else None,
            **kwargs)
