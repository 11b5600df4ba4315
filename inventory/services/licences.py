"""Export licences entered by an officer: validated, stored in one transaction, audited, and the
clusters they may cover re-scored once committed (so a licence gap they close is closed by the system)."""
from __future__ import annotations

from datetime import date

from django.db import transaction

from ..models import Cluster, License, Organization
from ..selectors import organization_family_ids


def licence_affected_cluster_ids(*, holder: Organization, destination_country: str) -> list[int]:
    """Clusters whose licence determination may change: operated in the holder's family, at the destination."""
    return list(Cluster.objects.filter(operator_id__in=organization_family_ids([holder.pk]),
                                       site__country=destination_country).values_list("id", flat=True))


def license_create(*, number: str, holder: Organization, destination_country: str, eccns: list[str],
                   valid_from: date, valid_until: date | None = None, quantity: int | None = None,
                   sites=()) -> License:
    """Create a licence (full model validation first; the audit log records it through its signals)."""
    from compliance.tasks import rescore_clusters

    with transaction.atomic():
        licence = License(number=number.strip(), holder=holder, destination_country=destination_country.upper(),
                          eccns=sorted(set(eccns)), valid_from=valid_from, valid_until=valid_until, quantity=quantity)
        licence.full_clean()
        licence.save()
        if sites:
            licence.sites.set(sites)
        cluster_ids = licence_affected_cluster_ids(holder=holder, destination_country=licence.destination_country)
        if cluster_ids:
            transaction.on_commit(lambda: rescore_clusters.delay(cluster_ids))
    return licence
