"""API-wide error shape: every error body is {"error": code, "detail": ...}."""
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError
from django.http import Http404
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is not None:
        # Django's own Http404 / PermissionDenied carry no code: name them as DRF's counterparts do.
        code = {Http404: "not_found", DjangoPermissionDenied: "permission_denied"}.get(
            type(exc), getattr(exc, "default_code", "error"))
        detail = response.data
        if isinstance(detail, dict) and set(detail) == {"detail"}:
            detail = detail["detail"]  # DRF's own {"detail": "..."}: one level, not two
        response.data = {"error": code, "detail": detail}
        return response
    if isinstance(exc, DatabaseError):
        # The database is down or restarting: tell clients to retry, never a 500 with a trace.
        return Response(
            {"error": "unavailable", "detail": "database unavailable, retry later"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    return None
