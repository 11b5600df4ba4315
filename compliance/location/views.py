"""The officer's page for one host: landmarks, measured round trips, and the region they allow."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.utils.safestring import mark_safe

from inventory.models import Host

from ..access.scope import Capability, user_scope

from . import bounds, services
from .svg import render_map


HOST_SCOPE = ("cluster__operator",)


@login_required
def host_location_page(request, host_id: int):
    """Scoped like every officer page: a host outside the viewer's organization families is a 404."""
    hosts = user_scope(request.user, Capability.READ).filter(Host.objects.select_related("cluster__site"), HOST_SCOPE)
    host = get_object_or_404(hosts, pk=host_id)
    located = services.host_location(host=host)
    context = {"host": host, "located": located, "site": host.cluster.site if host.cluster_id else None}
    if located is not None:
        site = located.site
        context.update(
            rows=[{"measurement": m, "disc": d, "likely": likely, "distance_to_site_km": (
                      None if site is None or site.latitude is None else
                      bounds.great_circle_km(d.latitude, d.longitude, site.latitude, site.longitude))}
                  for m, d, likely in zip(located.measurements, located.discs, located.likely_discs)],
            processing_allowance_ms=services.processing_allowance_ms(),
            map_svg=mark_safe(render_map(  # built from numbers and escaped names only
                atlas=bounds.CountryAtlas.load(), discs=located.discs, region=located.assessment.region,
                likely_region=located.assessment.likely_region,
                site=None if site is None or site.latitude is None else (site.name, site.latitude, site.longitude))),
        )
    return render(request, "location/host.html", context)
