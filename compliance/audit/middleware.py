"""Puts the request and its id in the audit context, and answers with X-Request-ID."""
from .context import audit_context


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with audit_context(request_id=request.headers.get("X-Request-ID"), request=request) as actor:
            response = self.get_response(request)
        response["X-Request-ID"] = actor.request_id
        return response
