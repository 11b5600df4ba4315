"""A worker SIGKILLed in the middle of evaluate_host's transaction, and the task run again.

tests/integration kills the worker before the task touches the database; here it dies inside
the transaction: the test holds a lock on the score table, so the task blocks after writing the
host's classifications and before its score.  Nothing of that transaction may remain, the
sweeper and a fresh worker finish the work, and evaluating the same inputs once more (a
redelivered task, a re-sent report) writes exactly the same rows: no second score, no duplicate
finding, the same classifications."""
import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from compliance.models import ClusterScore, Finding, GpuClassification
from compliance.tasks import evaluate_host, sweep_pending_evaluations
from inventory.models import Host
from tests.integration.conftest import wait_for
from tests.integration.test_celery_worker import assert_evaluated_once, evaluated, send_h800_report

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def evaluation_rows(host: Host) -> dict:
    """What an evaluation writes, without the timestamps of when it ran."""
    return {
        "classifications": sorted(GpuClassification.objects.filter(gpu__host=host).values_list(
            "gpu_id", "catalog_model", "eccn", "paragraph", "rule", "as_of", "observation_id")),
        "scores": list(ClusterScore.objects.filter(cluster_id=host.cluster_id).values_list(
            "id", "as_of", "rule", "gpu_count", "controlled_gpu_count", "risk_score", "content_sha256")),
        "findings": sorted(Finding.objects.values_list("id", "kind", "dedup_key", "severity", "status")),
    }


def test_worker_killed_mid_transaction_then_rerun_writes_the_same_rows(client, enrolled_agent,
                                                                      celery_worker_factory, postgres_url):
    agent, key = enrolled_agent
    send_h800_report(client, agent, key, sequence=1)
    test_db = postgres_url.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    dsn = test_db.replace("postgres://", "postgresql://")
    with psycopg.connect(dsn) as holder, psycopg.connect(dsn, autocommit=True) as watcher:
        holder.execute("LOCK TABLE compliance_clusterscore IN ACCESS EXCLUSIVE MODE")
        worker = celery_worker_factory()
        wait_for(lambda: watcher.execute(  # autocommit: pg_stat_activity is a fresh snapshot every time
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()[0] == 1, what="evaluate_host to block on the score table")
        worker.kill()
        holder.rollback()  # releases the lock; the orphaned session fails on its next write to the dead worker
    host = Host.objects.get(pk=agent.host_id)
    assert host.needs_evaluation is not None
    assert not GpuClassification.objects.exists() and not ClusterScore.objects.exists()  # nothing half-written

    celery_worker_factory()
    sweep_pending_evaluations.delay()
    wait_for(evaluated(agent.host_id), what="the sweeper and a fresh worker to finish the work")
    assert_evaluated_once(agent)
    first = evaluation_rows(host)

    Host.objects.filter(pk=host.pk).update(needs_evaluation=timezone.now())
    evaluate_host.delay(host.pk)
    wait_for(evaluated(agent.host_id), what="the second run of the same evaluation")
    assert evaluation_rows(host) == first
    dedup_keys = list(Finding.objects.values_list("dedup_key", flat=True))
    assert len(dedup_keys) == len(set(dedup_keys))
