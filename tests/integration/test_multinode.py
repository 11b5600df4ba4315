"""Past one machine: two ingest nodes and two Celery workers, each in its own network namespace, against
one PostgreSQL and one Redis reached over the namespaces' veth pairs.

The agents (this process) spread their reports over both ingest nodes.  Shown: every acknowledged report
is stored exactly once; every evaluation mark is cleared, with no host evaluated twice for one mark even
when the sweeper has queued a second message for every host; an ingest node SIGKILLed mid-load loses
nothing acknowledged, its agents failing over to the other node.

What "evaluated" means is observed in the database, not in our code: a trigger installed by the test logs
every row written to the classification tables (host and GPU), so whatever shape evaluation takes (one
host per task or batches), a second evaluation of the same mark shows as a second write.
"""
from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from tests.conftest import service_missing
from tests.integration.conftest import WorkerProcess, wait_for
from tests.integration.fleet import SimulatedAgent, deliver, enroll_fleet, post_report
from tests.integration.servers import Gunicorn
from tests.netns import forwarded, namespaces, netns_unavailable

pytestmark = pytest.mark.integration

AGENTS = 24
CLUSTERS = 4
LOGGED = {"compliance_hostclassification": "host_id", "compliance_gpuclassification": "gpu_id"}


def _rehost(url: str, host: str, port: int, database: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = (parts.netloc.rpartition("@")[0] + "@" if "@" in parts.netloc else "") + f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}" if database else parts.path))


@pytest.fixture
def classification_writes(transactional_db):
    """Every row written to a classification table, as (table, key) rows; dropped at teardown."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE test_classification_write (tbl text, row_key bigint)")
        cursor.execute("CREATE FUNCTION test_log_classification_write() RETURNS trigger LANGUAGE plpgsql AS $$"
                       " BEGIN INSERT INTO test_classification_write VALUES"
                       " (TG_TABLE_NAME, (to_jsonb(NEW) ->> TG_ARGV[0])::bigint); RETURN NEW; END $$")
        for table, key in LOGGED.items():
            cursor.execute(f"CREATE TRIGGER test_log_write AFTER INSERT OR UPDATE ON {table} FOR EACH ROW"
                           f" EXECUTE FUNCTION test_log_classification_write('{key}')")

    def writes(table: str) -> Counter:
        with connection.cursor() as cursor:
            cursor.execute("SELECT row_key FROM test_classification_write WHERE tbl = %s", [table])
            return Counter(key for (key,) in cursor.fetchall())

    def forget() -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM test_classification_write")

    writes.forget = forget
    yield writes
    with connection.cursor() as cursor:
        for table in LOGGED:
            cursor.execute(f"DROP TRIGGER IF EXISTS test_log_write ON {table}")
        cursor.execute("DROP FUNCTION IF EXISTS test_log_classification_write()")
        cursor.execute("DROP TABLE IF EXISTS test_classification_write")


@pytest.fixture
def machines(postgres_url, redis_url, transactional_db, settings):
    """Four namespaces, each reaching PostgreSQL and Redis through forwarders on its own veth address.
    Yields a function making (DATABASE_URL, REDIS_URL, namespace) for one more machine."""
    from django.db import connection

    why = netns_unavailable()
    if why:
        service_missing(f"network namespaces (ip netns as root: {why})")
    test_db = connection.settings_dict["NAME"]
    pg, redis_ = urlsplit(postgres_url), urlsplit(redis_url)
    with namespaces() as make_namespace, contextlib.ExitStack() as forwarders:
        def machine():
            namespace = make_namespace()
            pg_port = forwarders.enter_context(forwarded(namespace.outside_ip, (pg.hostname, pg.port or 5432)))
            redis_port = forwarders.enter_context(forwarded(namespace.outside_ip,
                                                            (redis_.hostname, redis_.port or 6379)))
            return (_rehost(postgres_url, namespace.outside_ip, pg_port, test_db),
                    _rehost(redis_url, namespace.outside_ip, redis_port), namespace)
        yield machine


def _pending_hosts() -> int:
    from inventory.models import Host

    return Host.objects.filter(needs_evaluation__isnull=False).count()


def test_two_ingest_nodes_and_two_workers_in_namespaces(machines, celery_worker_factory, classification_writes,
                                                         settings):
    from compliance.models import ClusterScore, GpuClassification
    from compliance.tasks import sweep_pending_evaluations
    from config.celery import app
    from inventory.models import Agent, Gpu, Host, Observation

    queue = celery_worker_factory.queue  # this process enqueues there too; purged at teardown
    env = {"CHIPWATCH_ACCEPT_SYNTHETIC": "1", "CELERY_QUEUE": queue, "DJANGO_SETTINGS_MODULE": "config.settings"}
    nodes, workers = [], []
    for _ in range(2):
        database_url, broker_url, namespace = machines()
        node_env = dict(env, REDIS_URL=broker_url, CELERY_BROKER_URL=broker_url, ALLOWED_HOSTS=namespace.inside_ip)
        nodes.append(Gunicorn(database_url, workers=2, host=namespace.inside_ip, launcher=namespace.launcher,
                              boot_timeout=90, env=node_env))
    for n in range(2):  # parked on a queue of their own until the backlog of phase 1 is in place
        database_url, broker_url, namespace = machines()
        workers.append(WorkerProcess(database_url, broker_url, f"{queue}-parked", launcher=namespace.launcher,
                                     name=f"node{n}"))
    worker_names = [f"{queue}-parked@node{n}" for n in range(2)]
    fleet = SimulatedAgent.fleet(enroll_fleet(AGENTS, clusters=CLUSTERS), nodes=len(nodes))
    sessions = threading.local()
    rng = random.Random(13)

    def send(url, body):
        sessions.value = getattr(sessions, "value", None) or requests.Session()
        return post_report(sessions.value, url, agent_of[body["agent_id"]], body)

    agent_of = {agent.id: agent for agent in fleet}
    urls = [node.url for node in nodes]
    try:
        for worker in workers:
            worker.start()
        with ThreadPoolExecutor(len(nodes)) as pool:  # the machines boot at once
            list(pool.map(Gunicorn.start, nodes))
        wait_for(lambda: len(app.control.ping(destination=worker_names, timeout=1)) == len(workers), timeout=60,
                 what="both workers to answer")

        # 1. One full report per host, spread over both nodes, while the workers are parked: a backlog of one
        #    mark per host.  The sweeper then queues a second message for every marked host, as it does
        #    for marks older than its bound when the first message is stuck behind a backlog.
        with ThreadPoolExecutor(8) as pool:
            delivered = list(pool.map(lambda agent: deliver(agent, agent.next_report(), urls, send=send,
                                                            until=time.time() + 30, rng=rng), fleet))
        assert all(delivered)
        per_node = Counter(url for agent in fleet for url in agent.acknowledged_by.values())
        assert per_node == {urls[0]: AGENTS // 2, urls[1]: AGENTS // 2}
        assert _pending_hosts() == AGENTS
        settings.CHIPWATCH_SWEEP_AFTER_SECONDS = 0
        assert sweep_pending_evaluations.apply().get() == AGENTS
        assert len(app.control.add_consumer(queue, destination=worker_names, reply=True)) == len(workers)
        wait_for(lambda: _pending_hosts() == 0, timeout=60, what="both workers to clear every mark")
        time.sleep(2)  # the duplicate messages, if any still queued, run now (and must do nothing)
        host_writes = classification_writes("compliance_hostclassification")
        gpu_writes = classification_writes("compliance_gpuclassification")
        assert set(host_writes) == set(Host.objects.values_list("id", flat=True))
        assert set(host_writes.values()) == {1}, "a host was evaluated twice for one mark"
        assert set(gpu_writes) == set(Gpu.objects.values_list("id", flat=True)) and len(gpu_writes) == AGENTS * 8
        assert set(gpu_writes.values()) == {1}, "a GPU was classified twice for one mark"
        assert GpuClassification.objects.count() == AGENTS * 8
        assert ClusterScore.objects.count() == CLUSTERS  # one per cluster and day

        # 2. Lean reports from every agent about once a second for 8 s; node 0 is SIGKILLed after 3 s.  Its
        #    agents fail over to node 1; nothing they were told was stored may be missing.
        classification_writes.forget()
        stop_at = time.time() + 8
        killed_at = time.time() + 3
        made, acknowledged_before = Counter(), {agent.id: set(agent.acknowledged_by) for agent in fleet}

        def keep_reporting(agent):
            while time.time() < stop_at:
                report = agent.next_report()
                made[agent.id] += 1
                deliver(agent, report, urls, send=send, until=stop_at + 20, rng=rng)
                time.sleep(rng.uniform(0.5, 1.5))

        with ThreadPoolExecutor(AGENTS) as pool:
            running = [pool.submit(keep_reporting, agent) for agent in fleet]
            time.sleep(max(0.0, killed_at - time.time()))
            nodes[0].kill()
            for future in running:
                future.result()
        after_kill = Counter(url for agent in fleet for report_id, url in agent.acknowledged_by.items()
                             if report_id not in acknowledged_before[agent.id])
        assert after_kill[urls[1]] > after_kill[urls[0]] > 0, after_kill  # node 0 served, then node 1 alone
        acknowledged = [report_id for agent in fleet for report_id in agent.acknowledged_by]
        assert len(acknowledged) == AGENTS + sum(made.values()), "a report was never acknowledged"
        stored = Counter(str(report_id) for report_id in Observation.objects.values_list("report_id", flat=True))
        assert set(stored) == set(acknowledged), "an acknowledged report is missing (or one stored unacknowledged)"
        assert set(stored.values()) == {1}, "a report was stored twice"

        wait_for(lambda: _pending_hosts() == 0, timeout=60, what="the marks of the load to be cleared")
        time.sleep(2)
        host_of = {str(agent_id): host_id for agent_id, host_id in Agent.objects.values_list("id", "host_id")}
        reports_per_host = Counter({host_of[agent_id]: count for agent_id, count in made.items()})
        for host_id, writes in classification_writes("compliance_hostclassification").items():
            assert writes <= reports_per_host[host_id], f"host {host_id} evaluated more often than marked"
    finally:  # no graceful stop: what is under test is done, and a loaded box may take long to drain
        for process in [*workers, *nodes]:
            process.kill()
