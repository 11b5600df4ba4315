"""The audit-log page: filtered events with their before/after, and whether the chain is intact."""
from django.views.generic import ListView

from compliance.access.mixins import CapabilityRequiredMixin

from .filtersets import AuditEventFilterSet
from .models import AuditEvent
from .permissions import REFUSED, can_read_audit_log
from .selectors import audit_chain_verify


class AuditLogView(CapabilityRequiredMixin, ListView):
    template_name = "audit/events.html"
    paginate_by = 50
    refusal = REFUSED

    def capability_granted(self, user) -> bool:
        return can_read_audit_log(user)

    def get_queryset(self):
        self.filterset = AuditEventFilterSet(self.request.GET or None, queryset=AuditEvent.objects.order_by("-seq"))
        return self.filterset.qs if self.filterset.is_bound and self.filterset.is_valid() else self.filterset.queryset

    def get_context_data(self, **kwargs):
        query = self.request.GET.copy()
        query.pop("page", None)
        context = super().get_context_data(filter=self.filterset, query=query.urlencode(),
                                           chain=audit_chain_verify(), **kwargs)
        for event in context["object_list"]:
            event.changes = event_changes(event)
        return context


def event_changes(event: AuditEvent) -> list[tuple[str, object, object]]:
    """(field, before, after) for the fields that differ: what an officer reads first."""
    before, after = event.before or {}, event.after or {}
    return [(key, before.get(key), after.get(key)) for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)]
