"""The batch evaluation: what the marked hosts' reports changed, and only that, judged again.

A host *changed* when the identity it reports, or the cluster it sits in, is not the one its
last evaluation rested on (``HostEvaluation``), or when one of its GPUs was newly identified as
another catalog chip.  A lean report changes neither; a full report repeating the identity
re-points its GPUs' classifications at the new observation and changes nothing else.
"""
from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from inventory.models import Gpu

from .. import services
from ..detectors import ON_EVERY_REPORT, ON_IDENTITY_CHANGE, ON_RESCORE, run_checks
from ..models import ClusterScore, HostEvaluation
from . import marks


def hosts_evaluate(*, limit: int | None = None, host_ids: list[int] | None = None, as_of: date | None = None) -> int:
    """Evaluate up to `limit` marked hosts (CHIPWATCH_EVALUATION_BATCH_SIZE; only `host_ids` when
    given) in one transaction; returns how many were evaluated.

    Asks for the next batch on commit when hosts are left: more were marked than the bound, or
    a report set a mark again while this batch ran (its compare-and-clear kept that mark).
    """
    limit = limit or settings.CHIPWATCH_EVALUATION_BATCH_SIZE
    as_of = as_of or timezone.localdate()
    with transaction.atomic():
        claimed = marks.marks_claim(limit=limit, host_ids=host_ids)
        if not claimed:
            return 0
        batch = [mark.host_id for mark in claimed]
        changed, described, scored_in = _changes(claimed, as_of)
        rescored = _clusters_to_score(claimed, changed, scored_in, as_of)
        if changed:
            services.hosts_classify(host_ids=sorted(changed), as_of=as_of)
        if rescored:
            marks.clusters_lock(rescored)
            services.clusters_score(cluster_ids=sorted(rescored), as_of=as_of)
        _evaluations_record(claimed, changed)
        run_checks(checks=ON_EVERY_REPORT, host_ids=batch)
        run_checks(checks=ON_IDENTITY_CHANGE, host_ids=sorted(changed | described))
        run_checks(checks=ON_RESCORE, host_ids=[m.host_id for m in claimed if m.cluster_id in rescored])
        if changed:
            services.transfers_check(host_ids=sorted(changed))
        cleared = marks.marks_clear(claimed)
        if len(cleared) < len(claimed) or len(claimed) == limit:
            transaction.on_commit(marks.evaluation_request)
    return len(claimed)


def host_evaluate(*, host_id: int, as_of: date | None = None) -> None:
    """One host, if marked: the batch path narrowed to it (a host another batch holds is left to it)."""
    hosts_evaluate(limit=1, host_ids=[host_id], as_of=as_of)


def _changes(claimed: list[marks.Mark], as_of: date) -> tuple[set[int], set[int], dict[int, int | None]]:
    """(hosts that changed, hosts whose GPUs a full report described again, host → cluster its
    last evaluation scored it in), classifying on the way the GPUs whose classification is
    missing, older than the identity they last reported, or of another day (the rules in force
    are the day's).  A GPU described again is checked again (the identity findings name the
    latest report), but only a new catalog match changes the host's counts."""
    by_host = {mark.host_id: mark for mark in claimed}
    before = {host_id: (identity, cluster_id) for host_id, identity, cluster_id in HostEvaluation.objects.filter(
        host_id__in=by_host).values_list("host_id", "identity_sha256", "cluster_id")}
    changed = {host_id for host_id, mark in by_host.items()
               if before.get(host_id) != (mark.identity_sha256, mark.cluster_id)}
    stale = (Gpu.objects.filter(host_id__in=by_host)
             .filter(Q(classification__isnull=True) | Q(classification__observation__isnull=True)
                     | ~Q(classification__observation_id=F("last_observation_id")) | ~Q(classification__as_of=as_of))
             .values_list("id", "host_id", "name", "pci_device_id", "last_observation_id",
                          "classification__catalog_model").order_by())
    now = timezone.now()
    rows, described = [], set()
    for gpu_id, host_id, name, pci_device_id, observation_id, model_before in stale:
        row = services.gpu_classification(gpu_id=gpu_id, name=name, pci_device_id=pci_device_id,
                                          observation_id=observation_id, as_of=as_of, now=now)
        if row.catalog_model != model_before:  # None: never classified, so counted now
            changed.add(host_id)
        described.add(host_id)
        rows.append(row)
    if rows:
        services.classifications_upsert(rows)
    return changed, described, {host_id: cluster_id for host_id, (_, cluster_id) in before.items()}


def _clusters_to_score(claimed: list[marks.Mark], changed: set[int], scored_in: dict[int, int | None],
                       as_of: date) -> set[int]:
    """Each cluster a changed host is in or left, and each cluster of the batch without a score
    for the day (the first evaluation after midnight writes the day's row)."""
    clusters = {m.cluster_id for m in claimed if m.host_id in changed}
    clusters |= {scored_in.get(host_id) for host_id in changed}
    present = {m.cluster_id for m in claimed} - clusters - {None}
    if present:
        clusters |= present - set(ClusterScore.objects.filter(cluster_id__in=present, as_of=as_of)
                                  .values_list("cluster_id", flat=True))
    return clusters - {None}


def _evaluations_record(claimed: list[marks.Mark], changed: set[int]) -> None:
    now = timezone.now()
    HostEvaluation.objects.bulk_create(
        [HostEvaluation(host_id=m.host_id, identity_sha256=m.identity_sha256, cluster_id=m.cluster_id,
                        evaluated_at=now) for m in claimed if m.host_id in changed],
        update_conflicts=True, unique_fields=["host"], update_fields=["identity_sha256", "cluster", "evaluated_at"])
