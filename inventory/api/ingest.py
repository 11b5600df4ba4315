"""Agent-facing endpoints: enrollment and report ingest.

Agents authenticate by signing each report with their enrolled Ed25519 key, not
with a token, so these views opt out of DRF authentication and call the services.
"""
from chipwatch_agent import protocol
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.limits import ENROLL_FAILURES, EnrollFailureThrottle
from config.parsers import DepthSafeJSONParser

from ..services import enrollment, ingest


def _error(error: ingest.IngestError) -> Response:
    response = Response({"error": error.code, "detail": error.detail}, status=error.status)
    if error.retry_after is not None:
        response["Retry-After"] = str(error.retry_after)
    return response


class EnrollSerializer(serializers.Serializer):
    secret = serializers.CharField(max_length=200)
    public_key = serializers.CharField(max_length=64, help_text="Raw Ed25519 public key, base64")
    hostname = serializers.CharField(max_length=255)
    machine_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class EnrollView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [DepthSafeJSONParser]
    throttle_classes = [EnrollFailureThrottle]

    @extend_schema(
        request=EnrollSerializer,
        responses={201: inline_serializer("Enrolled", {"agent_id": serializers.UUIDField(),
                                                      "host_id": serializers.IntegerField()})},
        summary="Register an agent's public key with an enrollment secret",
    )
    def post(self, request):
        try:
            body = request.data
        except ParseError:  # no agent sends a body it cannot parse: counts towards 429 like a refused secret
            ENROLL_FAILURES.record(request)
            raise
        data = EnrollSerializer(data=body)
        if not data.is_valid():
            return Response({"error": "invalid_request", "detail": data.errors}, status=400)
        try:
            agent = enrollment.agent_enroll(**data.validated_data)
        except ingest.IngestError as error:
            if error.status in (401, 403):  # a wrong, expired or used-up secret: counts towards 429
                ENROLL_FAILURES.record(request)
            return _error(error)
        return Response({"agent_id": str(agent.id), "host_id": agent.host_id}, status=status.HTTP_201_CREATED)


class ReportView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request={"application/json": {"type": "object", "description": "A report in format v1 (docs/report-format.md)"}},
        parameters=[
            OpenApiParameter(protocol.AGENT_ID_HEADER, str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(protocol.SIGNATURE_HEADER, str, OpenApiParameter.HEADER, required=True,
                             description="base64 Ed25519 signature of the canonical report"),
        ],
        responses={
            200: inline_serializer("ReportDuplicate", {"status": serializers.CharField(),
                                                       "observation_id": serializers.IntegerField(),
                                                       "report_id": serializers.UUIDField()}),
            201: inline_serializer("ReportStored", {"status": serializers.CharField(),
                                                    "observation_id": serializers.IntegerField(),
                                                    "report_id": serializers.UUIDField(),
                                                    "warnings": serializers.ListField()}),
        },
        summary="Submit one signed agent report",
    )
    def post(self, request):
        limit = settings.CHIPWATCH_MAX_REPORT_BYTES
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isdigit() or int(declared) > limit:
            return Response({"error": "too_large", "detail": f"report body over {limit} bytes"}, status=413)
        try:
            body = request.body
        except RequestDataTooBig:
            return Response({"error": "too_large", "detail": f"report body over {limit} bytes"}, status=413)
        try:
            result = ingest.report_ingest(
                agent_id=request.headers.get(protocol.AGENT_ID_HEADER, ""),
                signature=request.headers.get(protocol.SIGNATURE_HEADER, ""),
                body=body,
            )
        except ingest.IngestError as error:
            return _error(error)
        return Response(
            {"status": result.status, "observation_id": result.observation_id, "report_id": result.report_id,
             "warnings": result.warnings},
            status=result.http_status,
        )


def _result(result: ingest.IngestResult | ingest.IngestError) -> dict:
    """One report's answer inside a batch: the single endpoint's body plus its HTTP status."""
    if isinstance(result, ingest.IngestError):
        answer = {"http_status": result.status, "error": result.code, "detail": result.detail}
        if result.retry_after is not None:
            answer["retry_after"] = result.retry_after
        return answer
    return {"http_status": result.http_status, "status": result.status, "observation_id": result.observation_id,
            "report_id": result.report_id, "warnings": result.warnings}


class ReportBatchView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request={"application/json": {
            "type": "object", "required": ["reports"], "additionalProperties": False,
            "properties": {"reports": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["report", "signature"], "additionalProperties": False,
                "properties": {
                    "report": {"type": "object", "description": "A report in format v1 (docs/report-format.md)"},
                    "signature": {"type": "string", "description": "base64 Ed25519 signature of the canonical report"},
                }}}},
            "description": "Up to CHIPWATCH_BATCH_MAX_REPORTS signed reports of the agent named in the header, "
                           "oldest first"}},
        parameters=[OpenApiParameter(protocol.AGENT_ID_HEADER, str, OpenApiParameter.HEADER, required=True)],
        responses={200: inline_serializer("ReportBatchResults", {"results": serializers.ListField(
            child=inline_serializer("ReportBatchResult", {
                "http_status": serializers.IntegerField(help_text="What POST /api/v1/reports would have answered"),
                "status": serializers.CharField(required=False, help_text="stored or duplicate"),
                "observation_id": serializers.IntegerField(required=False),
                "report_id": serializers.UUIDField(required=False),
                "warnings": serializers.ListField(required=False),
                "error": serializers.CharField(required=False, help_text="the refusal's stable code"),
                "detail": serializers.JSONField(required=False),
                "retry_after": serializers.IntegerField(required=False),
            }))})},
        summary="Submit several signed reports of one agent (a spool drained after an outage) in one transaction",
    )
    def post(self, request):
        try:
            body = request.body
        except RequestDataTooBig:
            return Response({"error": "too_large", "detail": f"batch body over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} "
                             "bytes"}, status=413)
        try:
            results = ingest.report_batch_ingest(agent_id=request.headers.get(protocol.AGENT_ID_HEADER, ""),
                                                 body=body)
        except ingest.IngestError as error:
            return _error(error)
        return Response({"results": [_result(result) for result in results]}, status=200)
