"""Landmark-facing endpoints.  Landmarks authenticate by signing the body with their
registered Ed25519 key (like agents), so these views opt out of DRF authentication."""
from chipwatch_agent import protocol
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .landmark import LANDMARK_HEADER

_SIGNED = [
    OpenApiParameter(LANDMARK_HEADER, str, OpenApiParameter.HEADER, required=True),
    OpenApiParameter(protocol.SIGNATURE_HEADER, str, OpenApiParameter.HEADER, required=True,
                     description="base64 Ed25519 signature of the canonical body by the landmark's key"),
]


class _LandmarkView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def _call(self, request, service, render):
        try:
            result = service(landmark_id=request.headers.get(LANDMARK_HEADER, ""),
                             signature=request.headers.get(protocol.SIGNATURE_HEADER, ""), body=request.body)
        except services.LocationError as error:
            return Response({"error": error.code, "detail": error.detail}, status=error.status)
        return render(result)


class ChallengeClaimView(_LandmarkView):
    @extend_schema(request={"application/json": {"type": "object"}}, parameters=_SIGNED,
                   responses={200: inline_serializer("LandmarkChallenges", {"challenges": serializers.ListField(
                       child=inline_serializer("LandmarkChallenge", {
                           "nonce": serializers.CharField(), "agent_id": serializers.UUIDField(),
                           "agent_public_key": serializers.CharField(), "expires_at": serializers.DateTimeField()}))})},
                   summary="A landmark asks which challenges to put to the agents connected to it")
    def post(self, request):
        return self._call(request, services.challenges_claim, lambda challenges: Response({"challenges": [
            {"nonce": c.nonce, "agent_id": str(c.agent_id), "agent_public_key": c.agent.public_key,
             "expires_at": c.expires_at.isoformat()} for c in challenges]}))


class MeasurementView(_LandmarkView):
    @extend_schema(request={"application/json": {"type": "object"}}, parameters=_SIGNED,
                   responses={201: inline_serializer("LandmarkMeasurementStored", {
                       "measurement_id": serializers.IntegerField(), "rtt_min_ms": serializers.FloatField(),
                       "gpu_attestation": serializers.CharField()})},
                   summary="A landmark reports the signed round trips it timed for one challenge")
    def post(self, request):
        return self._call(request, services.measurement_ingest, lambda m: Response(
            {"measurement_id": m.id, "rtt_min_ms": m.rtt_min_ms, "gpu_attestation": m.gpu_attestation}, status=201))
