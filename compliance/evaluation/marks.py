"""The evaluation outbox: hosts marked by ingest, claimed by one batch, cleared compare-and-set.

On PostgreSQL a batch claims its hosts with transaction-scoped advisory locks (skipping hosts
another batch holds), so two workers never evaluate one host at once and ingest, which updates
the same host rows, never waits for an evaluation.  SQLite (the embedded default) has one
writer at a time and needs no claim.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, reduce
from operator import or_

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from inventory.models import Host

log = logging.getLogger(__name__)

# pg_try_advisory_xact_lock(CLAIM_LOCKS, host id): a batch's hold on a host until it commits.
CLAIM_LOCKS = 0x63770001
# pg_advisory_xact_lock(SCORE_LOCKS, cluster id): one batch re-scores a cluster at a time, so a
# score is never computed from a snapshot missing another batch's committed classifications.
SCORE_LOCKS = 0x63770002
# Redis key of the debounce: set while a batch task is queued and has not started.
REQUESTED_KEY = "chipwatch:evaluation:requested"


@dataclass(frozen=True)
class Mark:
    host_id: int
    marked_at: datetime
    cluster_id: int | None
    identity_sha256: str


def hosts_pending_evaluation(*, older_than_seconds: float, limit: int = 10_000) -> list[int]:
    """Hosts marked longer ago than the bound: their batch request was lost (or is still queued
    behind a backlog, when requesting again costs a no-op).  Fresh marks have a request."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(Host.objects.filter(needs_evaluation__lte=cutoff).order_by("needs_evaluation")
                .values_list("id", flat=True)[:limit])


def marks_claim(*, limit: int, host_ids: list[int] | None = None) -> list[Mark]:
    """Up to `limit` marked hosts (oldest mark first; only `host_ids` when given) that no other
    batch holds, held until the caller's transaction ends.  Call inside transaction.atomic()."""
    if connection.vendor != "postgresql":
        marked = Host.objects.filter(needs_evaluation__isnull=False)
        if host_ids is not None:
            marked = marked.filter(pk__in=host_ids)
        return [Mark(*row) for row in marked.order_by("needs_evaluation")
                .values_list("id", "needs_evaluation", "cluster_id", "identity_sha256")[:limit]]
    only = "AND id = ANY(%(host_ids)s)" if host_ids is not None else ""
    with connection.cursor() as cursor:
        # Materialised, so the lock is tried only on candidates and stops at `limit` taken; scanning past
        # the first `limit` lets a second worker take the next hosts while the first holds its own.
        cursor.execute(
            f"WITH candidates AS MATERIALIZED ("
            f"  SELECT id, needs_evaluation, cluster_id, identity_sha256 FROM {Host._meta.db_table}"
            f"  WHERE needs_evaluation IS NOT NULL {only} ORDER BY needs_evaluation LIMIT %(scan)s)"
            f" SELECT id, needs_evaluation, cluster_id, identity_sha256 FROM candidates"
            f" WHERE pg_try_advisory_xact_lock(%(ns)s, (id %% 2147483647)::int) LIMIT %(limit)s",
            {"scan": limit * 4, "limit": limit, "ns": CLAIM_LOCKS, "host_ids": host_ids})
        return [Mark(*row) for row in cursor.fetchall()]


def clusters_lock(cluster_ids) -> None:
    """Wait for every other batch re-scoring one of these clusters to commit (PostgreSQL), in id
    order so two batches cannot deadlock on each other."""
    if connection.vendor == "postgresql" and cluster_ids:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(pg_advisory_xact_lock(%s, c)) FROM "
                           "(SELECT unnest(%s::int[]) AS c ORDER BY 1) AS clusters",
                           [SCORE_LOCKS, sorted(cluster_ids)])


def marks_clear(marks: list[Mark]) -> set[int]:
    """Clear each mark that still holds the value the batch read; returns the hosts cleared.
    A report that set it again meanwhile keeps its host marked for the next batch."""
    if not marks:
        return set()
    if connection.vendor == "postgresql":
        table = Host._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS h SET needs_evaluation = NULL"
                f" FROM unnest(%s::bigint[], %s::timestamptz[]) AS m(id, marked_at)"
                f" WHERE h.id = m.id AND h.needs_evaluation = m.marked_at RETURNING h.id",
                [[m.host_id for m in marks], [m.marked_at for m in marks]])
            return {row[0] for row in cursor.fetchall()}
    cleared = set()
    for start in range(0, len(marks), 200):  # SQLite's expression depth limit
        chunk = marks[start:start + 200]
        same = reduce(or_, (Q(pk=m.host_id, needs_evaluation=m.marked_at) for m in chunk))
        ids = list(Host.objects.filter(same).values_list("id", flat=True))
        Host.objects.filter(pk__in=ids).update(needs_evaluation=None)
        cleared.update(ids)
    return cleared


# --- asking for a batch ------------------------------------------------------------


@lru_cache(maxsize=1)
def _redis():
    """The broker's Redis (the debounce needs a place every process shares), or None."""
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return None
    import redis

    timeout = settings.CHIPWATCH_BROKER_TIMEOUT_SECONDS
    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=timeout, socket_connect_timeout=timeout)


def evaluation_request() -> None:
    """Queue one batch unless one is queued and has not started (a thousand reports in a second
    queue one task, not a thousand).  The batch drops the key when it starts, before it reads
    the marks, so a mark set after that read is always followed by a request that queues.  If
    the flag cannot be read the batch is queued anyway; a lost request is the sweeper's."""
    from compliance.tasks import evaluate_pending_hosts

    client = _redis()
    if client is not None:
        try:
            if not client.set(REQUESTED_KEY, 1, nx=True, ex=settings.CHIPWATCH_EVALUATION_REQUEST_TTL_SECONDS):
                return
        except Exception:  # noqa: BLE001 — Redis down: the enqueue below fails too and the sweeper takes over
            log.warning("evaluation debounce flag unavailable; queueing a batch anyway")
    evaluate_pending_hosts.delay()


def evaluation_request_started() -> None:
    """A batch task started: the next report must queue a new one."""
    client = _redis()
    if client is not None:
        try:
            client.delete(REQUESTED_KEY)
        except Exception:  # noqa: BLE001 — the flag expires by itself
            log.warning("could not drop the evaluation debounce flag; it expires in %s s",
                        settings.CHIPWATCH_EVALUATION_REQUEST_TTL_SECONDS)
