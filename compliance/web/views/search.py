"""The header's search box: one query over GPUs (UUID, serial), hosts, organizations, clusters, licences.

Every kind is narrowed to the viewer's scope; a query that names exactly one thing opens it.
"""
from django.db.models import Q
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView

from inventory.models import Cluster, Gpu, Host, License, Organization

from .base import GPU_SCOPE, HOST_SCOPE, StaffRoleRequiredMixin

PER_KIND = 20
MIN_QUERY = 2


def search_all(scope, query: str) -> dict[str, list]:
    """Kind → up to PER_KIND matches, exact identifiers first."""
    return {
        "gpus": list(scope.filter(Gpu.objects.filter(Q(uuid__icontains=query) | Q(serial__iexact=query)),
                                  GPU_SCOPE).select_related("host").order_by("uuid")[:PER_KIND]),
        "hosts": list(scope.filter(Host.objects.filter(Q(hostname__icontains=query) | Q(machine_id__iexact=query)),
                                   HOST_SCOPE).select_related("cluster").order_by("hostname")[:PER_KIND]),
        "organizations": list(scope.filter(Organization.objects.filter(
            Q(name__icontains=query) | Q(aliases__icontains=query)), ("id",)).order_by("name")[:PER_KIND]),
        "clusters": list(scope.filter(Cluster.objects.filter(name__icontains=query), ("operator",))
                         .select_related("site").order_by("name")[:PER_KIND]),
        "licences": list(scope.filter(License.objects.filter(number__icontains=query), ("holder",))
                         .select_related("holder").order_by("number")[:PER_KIND]),
    }


class SearchView(StaffRoleRequiredMixin, TemplateView):
    template_name = "web/search.html"

    def get(self, request, *args, **kwargs):
        query = request.GET.get("q", "").strip()
        results = search_all(self.read_scope, query) if len(query) >= MIN_QUERY else {}
        found = [(kind, obj) for kind, objects in results.items() for obj in objects]
        if len(found) == 1:
            kind, obj = found[0]
            return redirect(_url(kind, obj))
        return self.render_to_response(self.get_context_data(query=query, results=results, total=len(found),
                                                             too_short=0 < len(query) < MIN_QUERY))


def _url(kind: str, obj) -> str:
    if kind == "licences":
        return reverse("web:organization", args=[obj.holder_id]) + "#licences"
    return reverse({"gpus": "web:gpu", "hosts": "web:host", "organizations": "web:organization",
                    "clusters": "web:cluster"}[kind], args=[obj.pk])
