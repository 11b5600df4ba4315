"""`?format=` chosen case-insensitively, and an unknown one refused naming what is offered."""
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.negotiation import DefaultContentNegotiation


class UnknownFormat(APIException):
    """400 like any other bad query parameter (DRF answers 404, as if the resource did not exist)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "unknown_format"


class FormatParamNegotiation(DefaultContentNegotiation):
    """`format=CSV` is `format=csv`; `format=xml` is a 400 listing this endpoint's formats."""

    def select_renderer(self, request, renderers, format_suffix=None):
        asked = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        if asked:
            asked = asked.strip().lower()
            offered = sorted({renderer.format for renderer in renderers})
            if asked not in offered:
                raise UnknownFormat(f"format {asked!r} is not offered here; choose one of: {', '.join(offered)}")
        return super().select_renderer(request, renderers, format_suffix=asked or None)
