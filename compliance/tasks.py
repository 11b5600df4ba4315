"""Thin Celery wrappers: pass ids, call services, retry with backoff."""
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import services

_RETRY = dict(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=300, retry_jitter=True,
              max_retries=5, acks_late=True)


@shared_task(**_RETRY)
def evaluate_host(host_id: int) -> None:
    services.host_evaluate(host_id=host_id)


@shared_task(**_RETRY)
def sweep_pending_evaluations() -> int:
    """Re-enqueue hosts still marked as needing evaluation: the database, not Redis, holds pending work."""
    host_ids = services.hosts_pending_evaluation(older_than_seconds=settings.CHIPWATCH_SWEEP_AFTER_SECONDS)
    for host_id in host_ids:
        evaluate_host.delay(host_id)
    return len(host_ids)


@shared_task(**_RETRY)
def rescore_fleet() -> int:
    return services.fleet_rescore()


@shared_task(**_RETRY)
def rescore_clusters(cluster_ids: list[int]) -> int:
    """After a declaration that can change their determination (e.g. a licence entered)."""
    return services.clusters_score(cluster_ids=cluster_ids, as_of=timezone.localdate())
