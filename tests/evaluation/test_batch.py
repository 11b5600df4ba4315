"""The batch evaluation (compliance.evaluation) through real ingest: what an unchanged report
costs, what a changed identity re-does, and the outbox's compare-and-clear.

Reports are stored by the ingest service inside the test's transaction, so their on-commit
request never runs: the hosts stay marked until the test runs a batch."""
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance.evaluation import marks
from compliance.evaluation.services import hosts_evaluate
from compliance.models import ClusterScore, Finding, GpuClassification
from inventory.models import Cluster, Host
from tests.evaluation import fleet

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_clusters(cluster):
    other = Cluster.objects.create(name="sg-train-2", site=cluster.site, operator=cluster.operator,
                                   declared_purpose="training")
    return cluster, other


def evaluated_fleet(clusters, per_cluster: int, first_number: int = 0) -> list[fleet.FleetHost]:
    hosts = []
    for i, cluster in enumerate(clusters):
        hosts += fleet.enroll(cluster=cluster, count=per_cluster, first_number=first_number + i * per_cluster)
    for host in hosts:
        fleet.send(host, fleet.report(host))
    assert hosts_evaluate() == len(hosts)
    return hosts


def rows() -> dict:
    """What evaluation writes, with the times it wrote them."""
    return {
        "classifications": sorted(GpuClassification.objects.values_list(
            "gpu_id", "catalog_model", "eccn", "as_of", "evaluated_at", "observation_id")),
        "scores": sorted(ClusterScore.objects.values_list("id", "cluster_id", "as_of", "content_sha256", "computed_at")),
        "findings": sorted(Finding.objects.values_list("id", "dedup_key", "occurrences", "last_seen")),
    }


def score_writes(queries) -> int:
    return sum(1 for q in queries if q["sql"].startswith(f"INSERT INTO {ClusterScore._meta.db_table}")
               or q["sql"].startswith(f'INSERT INTO "{ClusterScore._meta.db_table}"'))


def test_unchanged_lean_reports_reclassify_and_rescore_nothing(two_clusters):
    hosts = evaluated_fleet(two_clusters, 3)
    before = rows()
    assert len(before["classifications"]) == 48 and len(before["scores"]) == 2
    for host in hosts:
        fleet.send(host, fleet.report(host, full=False))
    assert Host.objects.filter(needs_evaluation__isnull=False).count() == 6
    with CaptureQueriesContext(connection) as queries:
        assert hosts_evaluate() == 6
    assert rows() == before
    assert score_writes(queries.captured_queries) == 0
    assert not Host.objects.filter(needs_evaluation__isnull=False).exists()


def test_a_full_report_repeating_the_identity_repoints_classifications_and_rescores_nothing(two_clusters):
    hosts = evaluated_fleet(two_clusters, 2)
    scores = rows()["scores"]
    for host in hosts:
        fleet.send(host, fleet.report(host))
    assert hosts_evaluate() == 4
    assert rows()["scores"] == scores
    stale = GpuClassification.objects.exclude(observation_id=fleet_last_observation())
    assert not stale.exists()


def fleet_last_observation():
    from django.db.models import OuterRef, Subquery

    from inventory.models import Gpu

    return Subquery(Gpu.objects.filter(pk=OuterRef("gpu_id")).values("last_observation_id"))


def test_changed_identities_are_reclassified_and_each_cluster_rescored_once(two_clusters):
    hosts = evaluated_fleet(two_clusters, 5)
    for host in hosts:
        fleet.send(host, fleet.report(host, part=fleet.H100))
    with CaptureQueriesContext(connection) as queries:
        assert hosts_evaluate() == 10
    assert set(GpuClassification.objects.values_list("catalog_model", flat=True)) == {"h100-sxm"}
    assert score_writes(queries.captured_queries) == 1  # both clusters in one upsert
    for cluster in two_clusters:
        score = ClusterScore.objects.get(cluster=cluster)
        assert score.gpu_count == 40 and set(score.figures["models"]) == {"h100-sxm"}


def test_a_host_moved_to_another_cluster_rescores_both(two_clusters):
    first, second = two_clusters
    hosts = evaluated_fleet(two_clusters, 2)
    Host.objects.filter(pk=hosts[0].host_id).update(cluster=second)
    fleet.send(hosts[0], fleet.report(hosts[0], full=False))
    assert hosts_evaluate() == 1
    assert ClusterScore.objects.get(cluster=first).gpu_count == 8
    assert ClusterScore.objects.get(cluster=second).gpu_count == 24


def test_running_the_batch_twice_is_idempotent(two_clusters):
    hosts = evaluated_fleet(two_clusters, 2)
    for host in hosts:
        fleet.send(host, fleet.report(host, part=fleet.H100))
    assert hosts_evaluate() == 4
    once = rows()
    assert hosts_evaluate() == 0  # nothing marked: nothing read beyond the claim
    Host.objects.update(needs_evaluation=timezone.now())  # a redelivered batch over the same inputs
    assert hosts_evaluate() == 4
    assert rows() == once


def test_the_bound_leaves_the_rest_marked_and_asks_for_the_next_batch(cluster, django_capture_on_commit_callbacks):
    hosts = fleet.enroll(cluster=cluster, count=5)
    for host in hosts:
        fleet.send(host, fleet.report(host))
    with django_capture_on_commit_callbacks() as callbacks:
        assert hosts_evaluate(limit=3) == 3
    assert callbacks == [marks.evaluation_request]
    assert Host.objects.filter(needs_evaluation__isnull=False).count() == 2
    assert hosts_evaluate(limit=3) == 2


@pytest.mark.parametrize("change", [None, fleet.H100], ids=["unchanged", "changed"])
def test_batch_queries_do_not_grow_with_hosts(two_clusters, change, django_assert_max_num_queries, postgres_url):
    """On PostgreSQL: SQLite splits a bulk insert by its 999-variable limit, so there the count grows
    by one statement per ~100 GPU rows classified."""
    small = evaluated_fleet(two_clusters, 2)
    large = evaluated_fleet(two_clusters, 10, first_number=100)

    def mark(hosts):
        for host in hosts:
            fleet.send(host, fleet.report(host, part=change or fleet.H800, full=change is not None))

    mark(small)
    with CaptureQueriesContext(connection) as queries:
        assert hosts_evaluate() == 4
    mark(large)
    with django_assert_max_num_queries(len(queries.captured_queries)):
        assert hosts_evaluate() == 20


@pytest.mark.django_db(transaction=True)
def test_a_mark_set_while_a_batch_runs_survives_it(enrolled_agent, postgres_url, redis_url):
    """A real interleaving on PostgreSQL: the batch holds its host and blocks on the score table
    (another session locks it); meanwhile the host's next report commits; the batch then
    finishes and must leave that report's mark for the next batch."""
    import psycopg
    import redis

    from tests.integration.conftest import wait_for

    agent, key = enrolled_agent
    host = fleet.FleetHost(1, str(agent.id), agent.host_id, key)
    fleet.send(host, fleet.report(host))  # committed: its on-commit batch evaluates it inline
    assert Host.objects.get(pk=host.host_id).needs_evaluation is None
    # As if a batch were queued: the next report only marks its host (the debounce skips the request).
    redis.Redis.from_url(redis_url).set(marks.REQUESTED_KEY, 1, ex=60)
    fleet.send(host, fleet.report(host, part=fleet.H100))
    marked = Host.objects.get(pk=host.host_id).needs_evaluation
    assert marked is not None

    dsn = connection.settings_dict
    conninfo = f"host={dsn['HOST']} port={dsn['PORT'] or 5432} user={dsn['USER']} dbname={dsn['NAME']}"
    evaluated = []

    def batch():
        try:
            evaluated.append(hosts_evaluate())
        finally:
            connection.close()

    with psycopg.connect(conninfo) as holder, psycopg.connect(conninfo, autocommit=True) as watcher:
        holder.execute(f"LOCK TABLE {ClusterScore._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        worker = threading.Thread(target=batch)
        worker.start()
        wait_for(lambda: watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()[0] == 1, what="the batch to block on the score table")
        fleet.send(host, fleet.report(host, part=fleet.H100, full=False))  # the report that must not be lost
        holder.rollback()
        worker.join(30)
    redis.Redis.from_url(redis_url).delete(marks.REQUESTED_KEY)
    assert evaluated == [1]
    remarked = Host.objects.get(pk=host.host_id).needs_evaluation
    assert remarked is not None and remarked > marked
    assert set(GpuClassification.objects.values_list("catalog_model", flat=True)) == {"h100-sxm"}
    assert hosts_evaluate() == 1
    assert Host.objects.get(pk=host.host_id).needs_evaluation is None
