"""Byte-exact renderings of an audit report: canonical JSON, and CSV of its flattened leaves.

Both are pure functions of the document, so asking twice gives the same bytes.
"""
import csv
import io

from rest_framework.renderers import BaseRenderer

from ..audit.canonical import canonical_json


class CanonicalJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return canonical_json(data)


def flatten(value, path: str = ""):
    """(path, leaf) pairs in canonical order: keys sorted, list order kept; empty containers are leaves."""
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from flatten(value[key], f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple) and value:
        for index, item in enumerate(value):
            yield from flatten(item, f"{path}[{index}]")
    else:
        yield path, value


class FlatCSVRenderer(BaseRenderer):
    """`path,value` rows; strings as they are, every other value as its canonical JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["path", "value"])
        for path, leaf in flatten(data):
            writer.writerow([path, leaf if isinstance(leaf, str) else canonical_json(leaf).decode("utf-8")])
        return out.getvalue().encode("utf-8")

