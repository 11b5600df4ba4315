"""`?format=` chosen case-insensitively, and an unknown one refused naming what is offered."""
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class FormatParamNegotiation(DefaultContentNegotiation):
    """`format=CSV` is `format=csv`; `format=xml` is a 406 listing this endpoint's formats, not a 404."""

    def select_renderer(self, request, renderers, format_suffix=None):
        asked = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        if asked:
            asked = asked.strip().lower()
            offered = sorted({renderer.format for renderer in renderers})
            if asked not in offered:
                raise NotAcceptable(f"format {asked!r} is not offered here; choose one of: {', '.join(offered)}")
        return super().select_renderer(request, renderers, format_suffix=asked or None)
