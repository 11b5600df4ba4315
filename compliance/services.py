"""Writes of the compliance side: evaluations, classifications, scores.

The law lives in `compliance.core` (pure); this module feeds it inventory rows and
stores what it answers.  Fleet-wide work is set-based: one aggregate query over
the GPU table, the core run once per (chip, date), bulk writes.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from inventory.models import Cluster, Gpu, Host

from .core.classify import classify
from .identify import identify
from .models import GpuClassification

log = logging.getLogger(__name__)


def hosts_pending_evaluation(*, limit: int = 10_000) -> list[int]:
    return list(Host.objects.filter(needs_evaluation__isnull=False).order_by("needs_evaluation")
                .values_list("id", flat=True)[:limit])


def host_evaluate(*, host_id: int, as_of: date | None = None) -> None:
    """Classify the host's GPUs, re-score its cluster, run the host detectors, clear the outbox mark.

    Idempotent: the same inputs write the same rows.  The mark is cleared only if no
    newer report set it meanwhile (compare-and-clear), so no evaluation is lost.
    """
    host = Host.objects.filter(pk=host_id).only("id", "cluster_id", "needs_evaluation").first()
    if host is None or host.needs_evaluation is None:
        return
    marked_at = host.needs_evaluation
    as_of = as_of or timezone.localdate()
    with transaction.atomic():
        gpus_classify(gpus=Gpu.objects.filter(host_id=host_id), as_of=as_of)
        if host.cluster_id is not None:
            clusters_score(cluster_ids=[host.cluster_id], as_of=as_of)
        from .detectors import run_host_detectors

        run_host_detectors(host_id=host_id)
        Host.objects.filter(pk=host_id, needs_evaluation=marked_at).update(needs_evaluation=None)


def gpus_classify(*, gpus, as_of: date) -> int:
    """Match each GPU to the catalog and store its classification (bulk upsert)."""
    now = timezone.now()
    rows = []
    for gpu in gpus.only("id", "name", "pci_device_id", "last_observation_id"):
        match = identify(pci_device_id=gpu.pci_device_id, name=gpu.name)
        verdict = classify(match.chip, as_of) if match.chip is not None else None
        rows.append(GpuClassification(
            gpu_id=gpu.id, catalog_model=match.chip.key if match.chip else "", match_basis=match.basis[:200],
            eccn=(verdict and verdict.eccn) or "", paragraph=(verdict and verdict.paragraph) or "",
            rule=(verdict and verdict.rule) or "", as_of=as_of, evaluated_at=now,
            observation_id=gpu.last_observation_id,
        ))
    GpuClassification.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["gpu"],
        update_fields=["catalog_model", "match_basis", "eccn", "paragraph", "rule", "as_of", "evaluated_at",
                       "observation"],
    )
    return len(rows)
