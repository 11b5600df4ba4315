"""Renderings: an audit report as canonical JSON and as CSV of its flattened leaves (byte-exact, pure
functions of the document, so asking twice gives the same bytes), and tables (CSV, XLSX) for spreadsheets.
"""
import csv
import io

from rest_framework.renderers import BaseRenderer

from ..audit.canonical import canonical_json
from ..exports.tabular import formula_neutralise, rows_flatten, table_csv, table_xlsx


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
    """`path,value` rows; strings as they are (formula-neutralised: hostnames and GPU names come from the
    hosts we audit), every other value as its canonical JSON (`format=leaves`)."""

    media_type = "text/csv"
    format = "leaves"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["path", "value"])
        for path, leaf in flatten(data):
            value = formula_neutralise(leaf) if isinstance(leaf, str) else canonical_json(leaf).decode("utf-8")
            writer.writerow([formula_neutralise(path), value])
        return out.getvalue().encode("utf-8")



class _TableRenderer(BaseRenderer):
    """A table a spreadsheet opens; the view says which (`export_table(data)`) and it is sent as a download."""

    extension = ""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        context = renderer_context or {}
        response = context.get("response")
        request = context.get("request")
        if (response is not None and response.status_code >= 400) or (request is not None and request.method != "GET"):
            # An error (a 404, a bad filter) or an OPTIONS/POST answer asked for as a table is not the listing
            # the view exports: its fields in one row.
            table = rows_flatten([data if isinstance(data, dict) else {"detail": data}],
                                 title="error" if response is not None and response.status_code >= 400 else "answer")
        else:
            table = context["view"].export_table(data)
        if response is not None:
            name = "".join(c if c.isalnum() or c in "-_." else "-" for c in table.title).strip("-") or "export"
            response["Content-Disposition"] = f'attachment; filename="{name}.{self.extension}"'
        return self.table_bytes(table)


class TableCSVRenderer(_TableRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"
    extension = "csv"
    table_bytes = staticmethod(table_csv)


class TableXLSXRenderer(_TableRenderer):
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"
    charset = None
    render_style = "binary"
    extension = "xlsx"
    table_bytes = staticmethod(table_xlsx)
