"""Thin Celery wrappers: pass ids, call services, retry with backoff."""
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import services
from .evaluation import marks
from .evaluation.services import host_evaluate, hosts_evaluate

_RETRY = dict(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=300, retry_jitter=True,
              max_retries=5, acks_late=True)


@shared_task(**_RETRY)
def evaluate_pending_hosts() -> int:
    """One batch of marked hosts (compliance.evaluation); it asks for the next while hosts are left."""
    marks.evaluation_request_started()
    return hosts_evaluate()


@shared_task(**_RETRY)
def evaluate_host(host_id: int) -> None:
    host_evaluate(host_id=host_id)


@shared_task(**_RETRY)
def sweep_pending_evaluations() -> int:
    """Queue batches for hosts marked longer than the bound: the database, not Redis, holds pending work."""
    host_ids = marks.hosts_pending_evaluation(older_than_seconds=settings.CHIPWATCH_SWEEP_AFTER_SECONDS)
    for _ in range(0, len(host_ids), settings.CHIPWATCH_EVALUATION_BATCH_SIZE):
        evaluate_pending_hosts.delay()
    return len(host_ids)


@shared_task(**_RETRY)
def rescore_fleet() -> int:
    return services.fleet_rescore()


@shared_task(**_RETRY)
def rescore_clusters(cluster_ids: list[int]) -> int:
    """After a declaration that can change their determination (e.g. a licence entered)."""
    return services.clusters_score(cluster_ids=cluster_ids, as_of=timezone.localdate())
