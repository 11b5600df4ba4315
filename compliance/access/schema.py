"""OpenAPI documentation of the error answers every scoped endpoint can give."""
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """The API-wide error body (config.api.exception_handler)."""

    error = serializers.CharField(help_text="A stable error code, e.g. not_found, permission_denied")
    detail = serializers.JSONField(help_text="What went wrong: a message, or field → messages")


class ScopedAutoSchema(AutoSchema):
    """Adds 400/401/403 to every operation and 404 to those addressing one object."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ["400", "401", "403"] + (["404"] if "{" in self.path else [])
        for code in codes:
            responses.setdefault(code, self._get_response_for_code(ErrorSerializer, code, direction=direction))
        return responses
