"""The inventory read API: one scoped read-only viewset per model, all on the same base.

`scope_lookups` name the paths from each model to the organization whose family a
user must be granted to see it (see compliance.access.scope).
"""
from compliance.access.viewsets import ScopedReadOnlyViewSet
from compliance.api.exports import TabularExportMixin

from .. import filtersets, selectors
from ..models import Organization
from . import serializers


class OrganizationViewSet(ScopedReadOnlyViewSet):
    queryset = selectors.organization_queryset()
    serializer_class = serializers.OrganizationSerializer
    filterset_class = filtersets.OrganizationFilterSet
    ordering_fields = ["id", "name", "kind", "headquarters_country", "created_at"]
    ordering = ["name"]
    scope_lookups = ("id",)

    def get_serializer(self, *args, **kwargs):
        """Resolves the ultimate parents of the whole page at once (one query per ownership level)."""
        instances = args[0] if args else kwargs.get("instance")
        if instances is not None:
            organizations = [instances] if isinstance(instances, Organization) else list(instances)
            kwargs["context"] = {**self.get_serializer_context(),
                                 "ultimate_parent_ids": selectors.organization_roots([o.pk for o in organizations])}
        return super().get_serializer(*args, **kwargs)


class SiteViewSet(ScopedReadOnlyViewSet):
    queryset = selectors.site_queryset()
    serializer_class = serializers.SiteSerializer
    filterset_class = filtersets.SiteFilterSet
    ordering_fields = ["id", "name", "country"]
    ordering = ["name", "id"]
    scope_lookups = ("organization",)
    row_annotations = selectors.SITE_COUNTS


class ClusterViewSet(TabularExportMixin, ScopedReadOnlyViewSet):
    export_name = "clusters"
    queryset = selectors.cluster_queryset()
    serializer_class = serializers.ClusterSerializer
    filterset_class = filtersets.ClusterFilterSet
    ordering_fields = ["id", "name", "declared_purpose"]
    ordering = ["name", "id"]
    scope_lookups = ("operator",)
    row_annotations = selectors.CLUSTER_COUNTS


class HostViewSet(ScopedReadOnlyViewSet):
    queryset = selectors.host_queryset()
    serializer_class = serializers.HostSerializer
    filterset_class = filtersets.HostFilterSet
    ordering_fields = ["id", "hostname", "first_seen", "last_seen"]
    ordering = ["hostname", "id"]
    scope_lookups = ("cluster__operator",)
    row_annotations = selectors.HOST_COUNTS


class GpuViewSet(TabularExportMixin, ScopedReadOnlyViewSet):
    export_name = "gpus"
    queryset = selectors.gpu_queryset().select_related("classification")
    serializer_class = serializers.GpuSerializer
    filterset_class = filtersets.GpuFilterSet
    ordering_fields = ["id", "uuid", "name", "serial", "first_seen", "last_seen"]
    ordering = ["uuid"]
    scope_lookups = ("host__cluster__operator",)


class ObservationViewSet(ScopedReadOnlyViewSet):
    queryset = selectors.observation_queryset()
    serializer_class = serializers.ObservationSerializer
    retrieve_serializer_class = serializers.ObservationDetailSerializer
    filterset_class = filtersets.ObservationFilterSet
    ordering_fields = ["id", "collected_at", "received_at", "sequence"]
    ordering = ["-id"]  # newest first along the primary key: no sort of the whole history per page
    scope_lookups = ("host__cluster__operator",)

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset.defer(None) if self.action == "retrieve" else queryset
