"""The officer's page for one host: landmarks, measured round trips, and the region they allow."""
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import get_object_or_404, render
from django.utils.safestring import mark_safe

from inventory.models import Host

from . import bounds, services
from .svg import render_map


@staff_member_required
def host_location_page(request, host_id: int):
    host = get_object_or_404(Host.objects.select_related("cluster__site"), pk=host_id)
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
