from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect


def home(request):
    """The officer's start page: the dashboard (which asks anonymous visitors to log in)."""
    return redirect("web:dashboard")


def healthz(request):
    """Liveness plus a database round trip, for the compose health check."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
