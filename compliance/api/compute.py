"""GET /api/v1/clusters/{id}/compute: a cluster's training compute from the hourly rollup, as JSON or
as a spreadsheet (one row per week and chip model) through the shared table renderers."""
from datetime import datetime, time, timedelta, timezone

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from inventory.models import Cluster

from ..access.permissions import HasReadRole
from ..access.schema import ScopedAutoSchema
from ..access.scope import ScopedQuerysetMixin
from ..compute import selectors
from ..exports.tabular import rows_flatten
from .renderers import TableCSVRenderer, TableXLSXRenderer

DEFAULT_WEEKS = 12
MAX_DAYS = 800  # two years and a bit: one request, one GROUP BY over at most ~19,000 hours per chip


class ComputeQuerySerializer(drf_serializers.Serializer):
    start = drf_serializers.DateField(required=False, help_text="First day (UTC, inclusive); default: 12 weeks "
                                                                "before end")
    end = drf_serializers.DateField(required=False, help_text="Day after the last (UTC, exclusive); default: tomorrow")
    precision = drf_serializers.ChoiceField(
        choices=selectors.PRECISION_CHOICES, required=False,
        help_text="fp16 (the faster of FP16/BF16) or fp8: that precision's bounds; omitted: the range over both "
                  "(BF16/FP16 lower, FP8 upper)")

    def validate(self, attrs):
        end = attrs.get("end") or datetime.now(timezone.utc).date() + timedelta(days=1)
        start = attrs.get("start") or end - timedelta(weeks=DEFAULT_WEEKS)
        if start >= end:
            raise drf_serializers.ValidationError({"start": ["start must be before end"]})
        if (end - start).days > MAX_DAYS:
            raise drf_serializers.ValidationError({"end": [f"at most {MAX_DAYS} days per request"]})
        return {"start": datetime.combine(start, time.min, tzinfo=timezone.utc),
                "end": datetime.combine(end, time.min, tzinfo=timezone.utc), "precision": attrs.get("precision")}


class ClusterComputeView(ScopedQuerysetMixin, GenericAPIView):
    """GPU-hours, energy and estimated operations (lower/upper) per week and chip model, the samples that fed
    them, and the training runs detected, with the thresholds they are compared against."""

    queryset = Cluster.objects.all()
    scope_lookups = ("operator",)
    permission_classes = [HasReadRole]
    renderer_classes = [JSONRenderer, TableCSVRenderer, TableXLSXRenderer]
    pagination_class = None
    filter_backends = []
    schema = ScopedAutoSchema()

    @extend_schema(
        operation_id="clusters_compute_retrieve", summary="Training compute of one cluster per week and chip model",
        parameters=[
            OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The cluster's id"),
            ComputeQuerySerializer,
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv", "xlsx"], description=(
                "json (default): the whole document; csv or xlsx: its `rows`, one per week and chip model")),
        ],
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description=(
                "{cluster_id, start, end, precision, model, caveat, totals, weeks[], by_model[], rows[], runs[], "
                "thresholds[]}; ops_upper is null when some busy time ran on an uncatalogued chip")),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="one row per week and chip model"),
            (200, TableXLSXRenderer.media_type): OpenApiResponse(OpenApiTypes.BINARY, description="as csv"),
        },
    )
    def get(self, request, pk: str):
        cluster = self.get_object()
        query = ComputeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(selectors.cluster_compute(cluster_id=cluster.id, **query.validated_data))

    def export_table(self, document):
        return rows_flatten(document["rows"], title=f"compute-cluster-{document['cluster_id']}")

    def handle_exception(self, exc):
        """Errors are JSON whatever format was asked for: clients parse one error shape."""
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)
