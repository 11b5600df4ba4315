"""GET /api/v1/classify: the `manage.py classify` answer over HTTP."""
from drf_spectacular.utils import extend_schema
from django.utils import timezone
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ..classify_request import ClassifyInputError, ClassifyRequest, classify_request


class ClassifyQuery(serializers.Serializer):
    model = serializers.CharField(required=False, help_text="catalog key or NVML name, e.g. 'NVIDIA H800'")
    pci_device_id = serializers.CharField(required=False, help_text="e.g. 0x2324")
    tpp = serializers.FloatField(required=False)
    die_area = serializers.FloatField(required=False, help_text="mm²")
    io_bandwidth = serializers.FloatField(required=False, help_text="GB/s, aggregate bidirectional")
    dram_bandwidth = serializers.FloatField(required=False, help_text="GB/s")
    datacenter = serializers.BooleanField(required=False, allow_null=True, default=None)
    as_of = serializers.DateField(required=False)
    destination = serializers.CharField(required=False, max_length=2)
    headquarters = serializers.CharField(required=False, max_length=2)
    ultimate_parent_hq = serializers.CharField(required=False, max_length=2)


class ClassifyView(APIView):
    @extend_schema(
        parameters=[ClassifyQuery],
        responses={200: {"type": "object", "description": "eccn, paragraph, rule, tpp, performance_density, "
                                                          "license_exception, explanation[, license_required, "
                                                          "review_policy, reasons, warnings]"}},
        summary="Classify a chip under the rules in force on a date",
    )
    def get(self, request):
        query = ClassifyQuery(data=request.query_params)
        if not query.is_valid():
            return Response({"error": "invalid_request", "detail": query.errors}, status=400)
        try:
            answer = classify_request(ClassifyRequest(**query.validated_data), today=timezone.localdate())
        except ClassifyInputError as exc:
            return Response({"error": "invalid_request", "detail": str(exc)}, status=400)
        return Response(answer)
