"""`?format=csv` and `?format=xlsx` on the list endpoints: the whole filtered list as a spreadsheet."""
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from inventory.selectors import rows_annotate

from ..exports.tabular import Table, rows_flatten
from .renderers import TableCSVRenderer, TableXLSXRenderer

TABLE_FORMATS = ("csv", "xlsx")
# Past this a table is refused (narrow the filters), never cut short without saying so.
EXPORT_MAX_ROWS = 100_000


class TabularExportMixin:
    """JSON stays the default; a table carries every row the filters select (no page), one column per field."""

    export_name = "export"

    def get_renderers(self):
        return [*super().get_renderers(), TableCSVRenderer(), TableXLSXRenderer()]

    def list(self, request, *args, **kwargs):
        if getattr(request.accepted_renderer, "format", None) not in TABLE_FORMATS:
            return super().list(request, *args, **kwargs)
        queryset = self.filter_queryset(self.get_queryset())
        if queryset.count() > EXPORT_MAX_ROWS:
            raise ValidationError({"format": [f"more than {EXPORT_MAX_ROWS} rows: narrow the filters to export"]})
        rows = rows_annotate(list(queryset), self.row_annotations)
        return Response(self.get_serializer(rows, many=True).data)

    def export_table(self, data) -> Table:
        return rows_flatten(list(data), title=self.export_name)

    def handle_exception(self, exc):
        """Errors are JSON whatever format was asked for: clients parse one error shape."""
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)
