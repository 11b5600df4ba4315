"""Request limits in front of the views: body size, and failed logins and enrollments per client.

Failures are counted per client address in the default cache, in a fixed window that starts
with the first failure.  The default cache is per process (LocMemCache), so with N gunicorn
workers an address gets up to N x the limit; that still turns an online guessing attack from
thousands of tries a second into a handful a minute.  Behind a reverse proxy set
CHIPWATCH_NUM_PROXIES, or every client shares the proxy's address and one attacker locks
everyone out.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from rest_framework.throttling import BaseThrottle


def client_address(request) -> str:
    """REMOTE_ADDR, or the address the trusted proxies saw (DRF's rule, REST_FRAMEWORK NUM_PROXIES)."""
    return BaseThrottle().get_ident(request)


class FailureCounter:
    """Failed attempts of one kind (login, enrollment) per client address."""

    def __init__(self, scope: str, limit_setting: str):
        self.scope, self.limit_setting = scope, limit_setting

    @property
    def window_seconds(self) -> int:
        return settings.CHIPWATCH_FAILURE_WINDOW_SECONDS

    def _key(self, request) -> str:
        return f"chipwatch:failures:{self.scope}:{client_address(request)}"

    def record(self, request) -> None:
        key = self._key(request)
        cache.add(key, 0, timeout=self.window_seconds)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr: this failure opens a new window
            cache.add(key, 1, timeout=self.window_seconds)

    def exceeded(self, request) -> bool:
        return (cache.get(self._key(request)) or 0) >= getattr(settings, self.limit_setting)


LOGIN_FAILURES = FailureCounter("login", "CHIPWATCH_LOGIN_FAILURE_LIMIT")
ENROLL_FAILURES = FailureCounter("enroll", "CHIPWATCH_ENROLL_FAILURE_LIMIT")


class EnrollFailureThrottle(BaseThrottle):
    """DRF throttle for agent enrollment: an address with too many refused secrets gets 429.

    Only refusals count, so a whole cluster enrolling from behind one NAT is never slowed."""

    def allow_request(self, request, view) -> bool:
        return not ENROLL_FAILURES.exceeded(request)

    def wait(self) -> float:
        return float(ENROLL_FAILURES.window_seconds)


def _login_failed(sender, credentials=None, request=None, **kwargs):
    if request is not None:
        LOGIN_FAILURES.record(request)


class LoginRateLimitMiddleware:
    """429 for login POSTs (admin and officer UI) from an address over its failure limit,
    before the password is even checked; failures are counted from Django's user_login_failed."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._login_paths: frozenset[str] | None = None
        user_login_failed.connect(_login_failed, dispatch_uid="chipwatch-login-failures")

    def __call__(self, request):
        if self._login_paths is None:
            self._login_paths = frozenset({reverse("admin:login"), reverse("web:login")})
        if request.method == "POST" and request.path in self._login_paths and LOGIN_FAILURES.exceeded(request):
            response = HttpResponse("Too many failed logins from your address; try again later.\n", status=429,
                                    content_type="text/plain")
            response["Retry-After"] = str(LOGIN_FAILURES.window_seconds)
            return response
        return self.get_response(request)


class RequestSizeLimitMiddleware:
    """413 for any body declared larger than DATA_UPLOAD_MAX_MEMORY_SIZE, decided from the
    Content-Length before anything reads it (Django alone answers a bare HTML 400 once read)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if limit is not None and (not declared.isdigit() or int(declared) > limit):
            detail = f"request body over {limit} bytes"
            if request.path.startswith("/api/"):
                return JsonResponse({"error": "too_large", "detail": detail}, status=413)
            return HttpResponse(detail + "\n", status=413, content_type="text/plain")
        return self.get_response(request)
