"""Redis restarted (a private redis-server, nothing persisted) under gunicorn and a worker: while it
is down, reports are still stored (201) and the host stays marked; after the restart the queue is
empty, and the sweeper (what beat runs every minute) finds the marked host in the database and
the reconnected worker evaluates it once.  tests/integration covers FLUSHDB on the shared Redis.

Everything that publishes runs in its own process (gunicorn, the worker, `celery call` for the
sweep), as in production, so this process's Celery app never points at the throwaway broker."""
import os
import subprocess
import sys

import pytest
import requests
from chipwatch_agent import protocol
from chipwatch_agent.collector import Collector
from chipwatch_agent.nvml_fake import FakeNvml
from chipwatch_agent.report import build_report
from django.db import connection

from inventory.models import Host
from tests.integration.conftest import ROOT, WorkerProcess, wait_for
from tests.integration.servers import Gunicorn
from tests.integration.test_celery_worker import assert_evaluated_once, evaluated

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def post_h800_report(base_url: str, agent, key, sequence: int) -> None:
    report = build_report(Collector(FakeNvml.from_profile("hgx-h800")).collect(), agent_id=str(agent.id),
                          sequence=sequence, backend="fake")
    response = requests.post(base_url + "/api/v1/reports", data=protocol.canonical_json(report), timeout=30,
                             headers={"Content-Type": "application/json", protocol.AGENT_ID_HEADER: str(agent.id),
                                      protocol.SIGNATURE_HEADER: protocol.sign(key, report)})
    assert response.status_code == 201, response.text


def sweep(database_url: str, broker_url: str) -> bool:
    """What beat does every minute; False while the broker cannot be reached."""
    done = subprocess.run([sys.executable, "-m", "celery", "-A", "config", "call",
                           "compliance.tasks.sweep_pending_evaluations"], cwd=ROOT, capture_output=True, timeout=60,
                          env=dict(os.environ, DATABASE_URL=database_url, REDIS_URL=broker_url,
                                   CELERY_BROKER_URL=broker_url))
    return done.returncode == 0


def test_redis_restart_loses_the_queue_not_the_work(transactional_db, postgres_url, enrolled_agent, own_redis):
    agent, key = enrolled_agent
    database_url = postgres_url.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    broker = {"REDIS_URL": own_redis.url, "CELERY_BROKER_URL": own_redis.url, "CHIPWATCH_ACCEPT_SYNTHETIC": "1"}
    server = Gunicorn(database_url, env=broker).start()
    worker = WorkerProcess(database_url, own_redis.url, "celery").start()
    try:
        post_h800_report(server.url, agent, key, sequence=1)
        wait_for(evaluated(agent.host_id), what="the first evaluation")

        own_redis.kill()
        post_h800_report(server.url, agent, key, sequence=2)  # stored; the enqueue fails, the mark stays
        assert Host.objects.get(pk=agent.host_id).needs_evaluation is not None
        own_redis.start()  # empty
        wait_for(lambda: sweep(database_url, own_redis.url), timeout=60, what="the sweep to be queued")
        wait_for(evaluated(agent.host_id), timeout=60, what="the reconnected worker to evaluate the marked host")
    finally:
        worker.stop()
        server.stop()
    assert_evaluated_once(agent)
