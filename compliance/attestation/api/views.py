"""Attestation endpoints: agents ask for a nonce (signed like reports); officers read a GPU's attestation."""
from chipwatch_agent import protocol
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import RetrieveAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from compliance.access.permissions import HasReadRole
from compliance.access.schema import ScopedAutoSchema
from compliance.access.scope import ScopedQuerysetMixin
from inventory.models import Gpu

from .. import selectors, services


class NonceView(APIView):
    """Agents authenticate by signing the body with their enrolled Ed25519 key, so no DRF authentication."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request={"application/json": {"type": "object", "description": '{"agent_id": …, "requested_at": …}'}},
        parameters=[OpenApiParameter(protocol.AGENT_ID_HEADER, str, OpenApiParameter.HEADER, required=True),
                    OpenApiParameter(protocol.SIGNATURE_HEADER, str, OpenApiParameter.HEADER, required=True,
                                     description="base64 Ed25519 signature of the canonical body")],
        responses={201: inline_serializer("AttestationNonce", {"attestation_nonce": serializers.CharField(),
                                                               "expires_at": serializers.DateTimeField()})},
        summary="An agent asks for a fresh nonce for its GPUs to sign",
    )
    def post(self, request):
        try:
            nonce = services.attestation_nonce_request(agent_id=request.headers.get(protocol.AGENT_ID_HEADER, ""),
                                                       signature=request.headers.get(protocol.SIGNATURE_HEADER, ""),
                                                       body=request.body)
        except services.AttestationError as error:
            return Response({"error": error.code, "detail": error.detail}, status=error.status)
        return Response({"attestation_nonce": nonce.nonce, "expires_at": nonce.expires_at.isoformat()}, status=201)


class GpuAttestationView(ScopedQuerysetMixin, RetrieveAPIView):
    """Reported vs attested for one GPU, narrowed to the caller's organization families like the GPU list."""

    permission_classes = [HasReadRole]
    schema = ScopedAutoSchema()
    queryset = Gpu.objects.select_related("host")
    scope_lookups = ("host__cluster__operator",)

    @extend_schema(responses={200: {"type": "object"}}, summary="A GPU's reported and attested facts")
    def get(self, request, *args, **kwargs):
        return Response(selectors.gpu_attestation(gpu=self.get_object()))
