"""The compliance read API, the triage action, and the reproducible cluster audit report."""
from datetime import date

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from inventory.models import Cluster

from .. import filtersets, services
from ..access.permissions import CanTriageObject, HasReadRole
from ..access.schema import ScopedAutoSchema
from ..access.scope import Capability, ScopedQuerysetMixin, user_scope
from ..access.viewsets import BoundedLimitOffsetPagination, ScopedReadOnlyViewSet
from ..audit.canonical import canonical_json, sha256_hex
from ..findings import TriageError, finding_triage
from ..models import ClusterScore, Finding, FindingEvent, GpuClassification
from . import serializers
from ..exports.audit_rows import audit_gpu_table
from .exports import TabularExportMixin
from .renderers import CanonicalJSONRenderer, FlatCSVRenderer, TableCSVRenderer, TableXLSXRenderer

FINDING_SCOPE = ("organization", "cluster__operator")


class GpuClassificationViewSet(ScopedReadOnlyViewSet):
    queryset = GpuClassification.objects.select_related("gpu")
    serializer_class = serializers.GpuClassificationSerializer
    filterset_class = filtersets.GpuClassificationFilterSet
    ordering_fields = ["id", "catalog_model", "eccn", "as_of", "evaluated_at"]
    ordering = ["id"]
    scope_lookups = ("gpu__host__cluster__operator",)


class ClusterScoreViewSet(ScopedReadOnlyViewSet):
    queryset = ClusterScore.objects.select_related("cluster")
    serializer_class = serializers.ClusterScoreSerializer
    filterset_class = filtersets.ClusterScoreFilterSet
    ordering_fields = ["id", "as_of", "risk_score", "aggregate_tpp", "h100_equivalents", "computed_at"]
    ordering = ["-as_of", "cluster_id"]
    scope_lookups = ("cluster__operator",)


class FindingViewSet(TabularExportMixin, ScopedReadOnlyViewSet):
    export_name = "findings"
    queryset = Finding.objects.select_related("cluster", "organization", "assignee")
    serializer_class = serializers.FindingSerializer
    retrieve_serializer_class = serializers.FindingDetailSerializer
    filterset_class = filtersets.FindingFilterSet
    ordering_fields = ["id", "severity", "status", "kind", "first_seen", "last_seen", "occurrences"]
    ordering = ["-severity", "-last_seen", "-id"]
    scope_lookups = FINDING_SCOPE

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action in ("retrieve", "triage"):
            queryset = queryset.prefetch_related(
                Prefetch("events", queryset=FindingEvent.objects.select_related("actor")))
        return queryset

    @extend_schema(request=serializers.TriageSerializer, responses=serializers.FindingDetailSerializer,
                   summary="Move a finding one triage step (officers and admins)")
    @action(detail=True, methods=["post"], permission_classes=[HasReadRole, CanTriageObject])
    def triage(self, request, pk=None):
        """open → acknowledged → resolved | false positive (or back to open), each step with a note and an assignee."""
        finding = self.get_object()
        step = serializers.TriageSerializer(data=request.data)
        step.is_valid(raise_exception=True)
        assignee = step.validated_data["assignee"]
        if not user_scope(assignee, Capability.TRIAGE).contains(finding, self.scope_lookups):
            raise ValidationError({"assignee": ["the assignee must be an officer or admin over this finding"]})
        try:
            finding_triage(finding=finding, actor=request.user, to_status=step.validated_data["to_status"],
                           note=step.validated_data["note"], assignee=assignee)
        except TriageError as exc:
            raise ValidationError({"to_status": [str(exc)]})
        return Response(serializers.FindingDetailSerializer(self.get_object()).data)


class ClusterScoreHistoryView(ScopedQuerysetMixin, GenericAPIView):
    """One cluster's scores, newest day first: one row per day it was scored (the day's latest evaluation)."""

    queryset = Cluster.objects.all()
    scope_lookups = ("operator",)
    permission_classes = [HasReadRole]
    serializer_class = serializers.ClusterScoreSerializer
    pagination_class = BoundedLimitOffsetPagination
    filter_backends = []
    schema = ScopedAutoSchema()

    @extend_schema(
        operation_id="clusters_scores_list", summary="Score history of one cluster (one score per day)",
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The cluster's id")],
        responses=serializers.ClusterScoreSerializer(many=True),
    )
    def get(self, request, pk: str):
        cluster = self.get_object()
        scores = ClusterScore.objects.filter(cluster=cluster).select_related("cluster").order_by("-as_of")
        page = self.paginate_queryset(scores)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class AuditQuerySerializer(drf_serializers.Serializer):
    as_of = drf_serializers.DateField(help_text="The date the report describes (YYYY-MM-DD), not in the future")

    def validate_as_of(self, value: date) -> date:
        if value > timezone.localdate():
            raise drf_serializers.ValidationError("an audit describes what was: as_of must not be in the future")
        return value


class ClusterAuditReportView(ScopedQuerysetMixin, GenericAPIView):
    """The cluster as it was on `as_of`: inventory, rule version, figures, thresholds, citations, findings.

    Serialized canonically (sorted keys) with the SHA-256 of the canonical report bytes,
    so an auditor can re-derive the hash, and asking twice gives the same bytes.
    """

    queryset = Cluster.objects.select_related("site", "operator")
    scope_lookups = ("operator",)
    permission_classes = [HasReadRole]
    renderer_classes = [CanonicalJSONRenderer, TableCSVRenderer, TableXLSXRenderer, FlatCSVRenderer]
    pagination_class = None
    filter_backends = []
    schema = ScopedAutoSchema()

    @extend_schema(
        operation_id="clusters_audit_retrieve",
        summary="Reproducible audit report of one cluster as of a date",
        parameters=[
            OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The cluster's id"),
            OpenApiParameter("as_of", OpenApiTypes.DATE, required=True, description="YYYY-MM-DD"),
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv", "xlsx", "leaves"], description=(
                "json (default, canonical, hashed); csv or xlsx: one row per GPU with its classification and "
                "licence columns; leaves: path,value rows of every leaf of the JSON document")),
        ],
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description=(
                '{"content_sha256": sha256 of the canonical JSON of "report", "report": {...}}; '
                "the same hash is sent as X-Content-SHA256 and as the ETag")),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=(
                "format=csv: one row per GPU (report_content_sha256 column = the JSON's hash); "
                "format=leaves: path,value rows of every leaf of the same document, in canonical order")),
            (200, TableXLSXRenderer.media_type): OpenApiResponse(OpenApiTypes.BINARY, description=(
                "one row per GPU, as format=csv")),
        },
    )
    def get(self, request, pk: str):
        cluster = self.get_object()
        query = AuditQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        report = services.cluster_audit_report(cluster=cluster, as_of=query.validated_data["as_of"])
        content_sha256 = sha256_hex(canonical_json(report))
        return Response({"content_sha256": content_sha256, "report": report},
                        headers={"X-Content-SHA256": content_sha256, "ETag": f'"{content_sha256}"'})

    @staticmethod
    def export_table(document):
        return audit_gpu_table(document)

    def handle_exception(self, exc):
        """Errors are JSON whatever format was asked for: clients parse one error shape."""
        self.request.accepted_renderer = CanonicalJSONRenderer()
        self.request.accepted_media_type = CanonicalJSONRenderer.media_type
        return super().handle_exception(exc)
