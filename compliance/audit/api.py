"""GET /api/v1/audit-events: the hash-chained log, filtered, with the chain's verification.

Every event carries what its sha256 covers, so a client can recompute each hash and the
chain without trusting the server (docs/api.md has the recipe).
"""
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets

from compliance.access.schema import ScopedAutoSchema
from compliance.access.viewsets import BoundedLimitOffsetPagination

from .filtersets import AuditEventFilterSet
from .models import AuditEvent
from .permissions import CanReadAuditLog
from .selectors import audit_chain_verify


class AuditEventSerializer(serializers.ModelSerializer):
    at = serializers.SerializerMethodField(help_text="As hashed: Python isoformat of the UTC time")

    class Meta:
        model = AuditEvent
        fields = ["seq", "at", "user_id", "user_name", "request_id", "model", "object_id", "object_repr", "action",
                  "before", "after", "prev_sha256", "sha256"]

    def get_at(self, event) -> str:
        return event.at.isoformat()


class ChainSerializer(serializers.Serializer):
    intact = serializers.BooleanField()
    events = serializers.IntegerField(help_text="Events verified (the whole chain, not only this page)")
    head_seq = serializers.IntegerField()
    head_sha256 = serializers.CharField()
    problem = serializers.CharField(help_text="Empty when intact; else the first row edited or deleted")


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = AuditEvent.objects.order_by("seq")
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilterSet
    permission_classes = [CanReadAuditLog]
    pagination_class = BoundedLimitOffsetPagination
    schema = ScopedAutoSchema()
    ordering_fields = ["seq", "at"]
    lookup_field = "seq"

    @extend_schema(summary="Audit events (newest last), filtered, with the chain's verify status",
                   responses=inline_serializer("AuditEventPage", {
                       "count": serializers.IntegerField(), "next": serializers.URLField(allow_null=True),
                       "previous": serializers.URLField(allow_null=True), "chain": ChainSerializer(),
                       "results": AuditEventSerializer(many=True)}))
    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        chain = audit_chain_verify()
        response.data["chain"] = {"intact": chain.intact, "events": chain.events, "head_seq": chain.head_seq,
                                  "head_sha256": chain.head_sha256, "problem": chain.problem}
        return response
