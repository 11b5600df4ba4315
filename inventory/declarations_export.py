"""The declarations on record as the template's rows (inventory.declaration_sheets), so an export is a file
the import takes back: importing it into an empty database reproduces the same rows."""
from __future__ import annotations

from .declaration_sheets import LIST_SEPARATOR, SITE_QUALIFIER
from .models import Cluster, License, Organization, Site, Transfer


def _site_ref(site: Site | None) -> str:
    """Always qualified: a site name is unique only within its organization."""
    return "" if site is None else f"{site.organization.name}{SITE_QUALIFIER}{site.name}"


def _joined(items) -> str:
    return f"{LIST_SEPARATOR} ".join(items)


def _in_scope(queryset, scope, lookup: str):
    if scope is None or scope.everything:
        return queryset
    return queryset.filter(**{f"{lookup}__in": scope.organization_ids})


def declarations_export_sheets(*, scope=None) -> dict[str, list[list]]:
    """Rows per sheet, in SHEETS' column order; parents before their subsidiaries. A fixed number of queries."""
    organizations = list(_in_scope(Organization.objects.select_related("parent"), scope, "id"))
    depth = {}
    parent_of = {o.pk: o.parent_id for o in organizations}

    def depth_of(pk, seen=()):
        if pk not in depth:
            parent = parent_of.get(pk)
            depth[pk] = 0 if parent is None or parent in seen or parent not in parent_of else (
                depth_of(parent, (*seen, pk)) + 1)
        return depth[pk]

    organizations.sort(key=lambda o: (depth_of(o.pk), o.name))
    sites = _in_scope(Site.objects.select_related("organization").order_by("organization__name", "name"),
                      scope, "organization")
    clusters = _in_scope(Cluster.objects.select_related("site__organization", "operator")
                         .order_by("site__organization__name", "site__name", "name"), scope, "operator")
    licences = _in_scope(License.objects.select_related("holder").prefetch_related("sites__organization")
                         .order_by("number"), scope, "holder")
    transfers = _in_scope(Transfer.objects.select_related("from_site__organization", "to_site__organization")
                          .order_by("effective_date", "gpu_uuid", "id"), scope, "to_site__organization")
    return {
        "organizations": [[o.name, o.kind, o.parent.name if o.parent else "", o.country_of_incorporation,
                           o.headquarters_country, _joined(o.aliases)] for o in organizations],
        "sites": [[s.organization.name, s.name, s.country, s.city, s.latitude, s.longitude] for s in sites],
        "clusters": [[_site_ref(c.site), c.name, c.operator.name, c.declared_purpose] for c in clusters],
        "licences": [[lic.number, lic.holder.name, lic.destination_country, _joined(lic.eccns), lic.quantity,
                      lic.valid_from, lic.valid_until,
                      _joined(sorted(_site_ref(s) for s in lic.sites.all()))] for lic in licences],
        "transfers": [[t.gpu_uuid, _site_ref(t.from_site), _site_ref(t.to_site), t.effective_date, t.license_number]
                      for t in transfers],
    }
