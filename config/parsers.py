"""JSON request bodies nested deeper than the interpreter can follow are malformed input (a 400), never a 500.

Python's json raises RecursionError (not ValueError) on e.g. 100000 levels of `[`; DRF's JSONParser and a bare
json.loads let it escape as an unauthenticated 500 (issue 11, item 9).
"""
import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

TOO_DEEP = "JSON nested too deeply"


def json_loads(text, **kwargs):
    """json.loads whose too-deep nesting is a ValueError, like every other malformed JSON."""
    try:
        return json.loads(text, **kwargs)
    except RecursionError:
        raise ValueError(TOO_DEEP) from None


class DepthSafeJSONParser(JSONParser):
    """DRF's JSONParser, answering too-deep nesting as a ParseError (400)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - {TOO_DEEP}") from None
