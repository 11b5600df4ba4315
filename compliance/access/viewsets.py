"""The one base every read endpoint uses: scoped queryset, role check, bounded pages, documented errors."""
from rest_framework import viewsets
from rest_framework.pagination import LimitOffsetPagination

from inventory.selectors import rows_annotate

from .permissions import HasReadRole
from .schema import ScopedAutoSchema
from .scope import ScopedQuerysetMixin


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = 1000


class ScopedReadOnlyViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """List and retrieve, narrowed to the user's organization families.

    `retrieve_serializer_class`, when set, adds the heavy fields (payloads, histories)
    only where one object is asked for; `row_annotations` (name → expression) are computed
    for the rows served only, never for the rows a page skips.
    """

    permission_classes = [HasReadRole]
    pagination_class = BoundedLimitOffsetPagination
    schema = ScopedAutoSchema()
    retrieve_serializer_class = None
    row_annotations: dict = {}
    # Any id-shaped segment reaches the view, so a malformed id answers the API's JSON 404, not an HTML page.
    lookup_value_regex = "[^/]+"

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return rows_annotate(page, self.row_annotations) if page is not None else None

    def get_object(self):
        return rows_annotate([super().get_object()], self.row_annotations)[0]

    def get_serializer_class(self):
        if self.action == "retrieve" and self.retrieve_serializer_class is not None:
            return self.retrieve_serializer_class
        return super().get_serializer_class()
