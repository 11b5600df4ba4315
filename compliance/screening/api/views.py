"""GET /api/v1/screening/match: `manage.py screen` over HTTP, for any read role; nothing is written."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from compliance.access.permissions import HasReadRole

from ..adhoc import DEFAULT_LIMIT, MAX_LIMIT, AdhocScreeningError, NoScreeningList, adhoc_query, screening_match


class ScreeningMatchView(APIView):
    permission_classes = [HasReadRole]

    @extend_schema(
        parameters=[
            OpenApiParameter("name", OpenApiTypes.STR, required=True, description="the name to screen, any script"),
            OpenApiParameter("country", OpenApiTypes.STR, description="ISO 3166-1 alpha-2; a country the entry "
                                                                      "does not name lowers the score"),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"entries returned, 1–{MAX_LIMIT} "
                                                                    f"(default {DEFAULT_LIMIT})"),
        ],
        responses={200: OpenApiResponse(description="query, threshold, list version, matches, results (score, "
                                                     "match, entry, explanation), best first"),
                   400: OpenApiResponse(description="a parameter is missing or malformed; detail names it"),
                   409: OpenApiResponse(description="no screening list has been imported")},
        summary="Screen a name against the current Consolidated Screening List (yente /match-like)",
    )
    def get(self, request):
        params = request.query_params
        limit = params.get("limit")
        if limit is not None and not limit.strip().isdigit():
            return Response({"error": "invalid_request", "detail": "limit: must be a whole number"}, status=400)
        try:
            query = adhoc_query(name=params.get("name"), country=params.get("country"),
                                limit=int(limit) if limit is not None else None)
            return Response(screening_match(query))
        except AdhocScreeningError as exc:
            return Response({"error": "invalid_request", "detail": str(exc)}, status=400)
        except NoScreeningList as exc:
            return Response({"error": "no_screening_list", "detail": str(exc)}, status=409)
