"""GET /api/v1/classify: the `manage.py classify` answer over HTTP."""
from drf_spectacular.utils import extend_schema
from django.utils import timezone
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ..classify_request import ClassifyInputError, ClassifyRequest, api_spelling, classify_request
from ..core import MOVEMENTS


class ClassifyQuery(serializers.Serializer):
    model = serializers.CharField(required=False, help_text="catalog key or NVML name, e.g. 'NVIDIA H800'")
    pci_device_id = serializers.CharField(required=False, help_text="e.g. 0x2324")
    tpp = serializers.FloatField(required=False)
    die_area = serializers.FloatField(required=False, help_text="mm²")
    io_bandwidth = serializers.FloatField(required=False, help_text="GB/s, aggregate bidirectional")
    dram_bandwidth = serializers.FloatField(required=False, help_text="GB/s")
    hbm_bandwidth_density = serializers.FloatField(required=False, help_text="GB/s/mm², a stand-alone HBM stack (3A090.c)")
    datacenter = serializers.BooleanField(required=False, allow_null=True, default=None)
    as_of = serializers.DateField(required=False)
    destination = serializers.CharField(required=False, max_length=2)
    headquarters = serializers.CharField(required=False, max_length=2)
    ultimate_parent_hq = serializers.CharField(required=False, max_length=2)
    movement = serializers.ChoiceField(required=False, choices=MOVEMENTS,
                                       help_text="how the item moves; 91 FR 1684 case-by-case is for export_from_us only")


class ClassifyView(APIView):
    @extend_schema(
        parameters=[ClassifyQuery],
        responses={200: {"type": "object", "description": "eccn, paragraph, rule, tpp, performance_density, "
                                                          "license_exception, explanation[, missing, needed_for][, "
                                                          "hbm_bandwidth_density][, classification_missing, "
                                                          "license_required (true/false/null = undetermined), "
                                                          "review_policy, headline, reasons, warnings, missing, "
                                                          "conditions, unconfirmed, basis, destination, movement]"}},
        summary="Classify a chip under the rules in force on a date",
    )
    def get(self, request):
        query = ClassifyQuery(data=request.query_params)
        if not query.is_valid():
            return Response({"error": "invalid_request", "detail": query.errors}, status=400)
        try:
            answer = classify_request(ClassifyRequest(**query.validated_data), today=timezone.localdate(),
                                      spell=api_spelling)
        except ClassifyInputError as exc:
            return Response({"error": "invalid_request", "detail": str(exc)}, status=400)
        return Response(answer)
