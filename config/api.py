"""API-wide error shape: every error body is {"error": code, "detail": ...}."""
from django.db import DatabaseError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is not None:
        code = getattr(exc, "default_code", "error")
        response.data = {"error": code, "detail": response.data}
        return response
    if isinstance(exc, DatabaseError):
        # The database is down or restarting: tell clients to retry, never a 500 with a trace.
        return Response(
            {"error": "unavailable", "detail": "database unavailable, retry later"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    return None
