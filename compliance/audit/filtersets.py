"""Filters of the audit log, shared by GET /api/v1/audit-events and the audit-log page."""
import django_filters

from .models import AuditEvent


class AuditEventFilterSet(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="user_name", lookup_expr="iexact",
                                      help_text="Username of who made the change (exact, any case)")
    model = django_filters.CharFilter(field_name="model", lookup_expr="iexact",
                                      help_text="app_label.model_name, e.g. inventory.cluster")
    object = django_filters.CharFilter(field_name="object_id", help_text="The changed row's id")
    action = django_filters.ChoiceFilter(choices=AuditEvent.Action.choices)
    request_id = django_filters.CharFilter(help_text="The X-Request-ID of the request that made the change")
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte",
                                             help_text="At or after this time (ISO 8601, e.g. 2026-12-01T00:00Z)")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt",
                                             help_text="Before this time (ISO 8601)")

    class Meta:
        model = AuditEvent
        fields = ["actor", "model", "object", "action", "request_id", "since", "until"]
