from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect
from django.templatetags.static import static


def home(request):
    """The officer's start page: the dashboard (which asks anonymous visitors to log in)."""
    return redirect("web:dashboard")


def favicon(request):
    """Browsers ask every page's origin for /favicon.ico (admin, Swagger and ReDoc pages too): not a 404."""
    return redirect(static("web/favicon.svg"), permanent=True)


def healthz(request):
    """Liveness plus a database round trip, for the compose health check."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
