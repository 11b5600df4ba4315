"""Names for the filter fields' autocomplete (<datalist>), from the viewer's scope only."""
from django.contrib.auth import get_user_model
from django.http import JsonResponse
from django.views import View

from inventory.models import Cluster, Host, Organization, Site

from ...access.scope import Capability, users_with
from .base import HOST_SCOPE, StaffRoleRequiredMixin

LOOKUPS = {
    # kind → (model, scope lookups, field offered)
    "organizations": (Organization, ("id",), "name"),
    "clusters": (Cluster, ("operator",), "name"),
    "sites": (Site, ("organization",), "name"),
    "hosts": (Host, HOST_SCOPE, "hostname"),
}


class LookupView(StaffRoleRequiredMixin, View):
    """`/lookup/<kind>/?q=`: names for a filter field's <datalist>, within the viewer's scope."""

    limit = 20

    def get(self, request, kind: str):
        query = request.GET.get("q", "").strip()
        if kind == "officers":
            scope = self.read_scope
            users = (get_user_model().objects.filter(is_active=True) if scope.everything
                     else users_with(Capability.TRIAGE, scope.organization_ids))
            names = list(users.filter(username__icontains=query).order_by("username")
                         .values_list("username", flat=True)[:self.limit])
        elif kind in LOOKUPS:
            model, lookups, name = LOOKUPS[kind]
            rows = self.read_scope.filter(model.objects.filter(**{f"{name}__icontains": query}), lookups)
            names = list(rows.order_by(name).values_list(name, flat=True).distinct()[:self.limit])
        else:
            return JsonResponse({"error": "not_found", "detail": f"no lookup {kind!r}"}, status=404)
        return JsonResponse({"results": names})
