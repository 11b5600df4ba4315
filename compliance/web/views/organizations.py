"""Organizations: the list, and one organization's family, sites, clusters, licences, findings, screening."""
from django.apps import apps
from django.db.models import Prefetch, Q
from django.views.generic import DetailView, ListView

from inventory import filtersets as inventory_filtersets
from inventory import selectors as inventory_selectors
from inventory.models import License, Organization

from ...access.scope import ScopedQuerysetMixin
from ...models import Finding
from .base import FilteredListMixin, StaffRoleRequiredMixin


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
            licences=(License.objects.filter(holder=organization).select_related("holder").prefetch_related("sites")
                      .order_by("-valid_from", "number")),
            findings=(Finding.objects.filter(Q(organization=organization) | Q(cluster__operator=organization))
                      .select_related("assignee").order_by("-severity", "-last_seen")[:200]),
            screening=self._screening(organization),
            can_enter_licence=self.triage_scope.contains(organization, ("id",)),
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
