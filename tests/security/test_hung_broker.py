"""A hung Redis does not hang ingest (issue 11, item 7): with the broker SIGSTOPped (it accepts TCP connections
and never answers), a signed report under gunicorn is still answered 201, committed, and its host left marked
for the sweeper.  The reviewer saw a 500 after 30 s and a killed gunicorn worker.

The 10 s client timeout is the hang bound, not a speed goal: CHIPWATCH_BROKER_TIMEOUT_SECONDS (0.5 s) bounds
each Redis call, the publish retries once, and the gunicorn worker timeout is far above that.  The private
redis-server stands for the broker only; gunicorn runs in its own process so this one never points at it."""
import os
import signal
import time

import pytest
import requests
from chipwatch_agent import protocol
from chipwatch_agent.collector import Collector
from chipwatch_agent.nvml_fake import FakeNvml
from chipwatch_agent.report import build_report
from django.db import connection

from inventory.models import Host, Observation
from tests.faults.conftest import ThrowawayRedis
from tests.integration.servers import Gunicorn

pytestmark = [pytest.mark.integration]

HANG_BOUND_SECONDS = 10


@pytest.fixture
def stopped_redis():
    """A private redis-server, SIGSTOPped for the test; continued and killed afterwards, also on failure."""
    server = ThrowawayRedis()
    server.start()
    try:
        yield server
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
        server.kill()


def test_a_stopped_broker_costs_ingest_no_hang_and_loses_no_report(transactional_db, postgres_url, enrolled_agent,
                                                                   stopped_redis):
    agent, key = enrolled_agent
    database_url = postgres_url.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    server = Gunicorn(database_url, workers=1, env={"REDIS_URL": stopped_redis.url, "CHIPWATCH_ACCEPT_SYNTHETIC": "1",
                                                    "CELERY_BROKER_URL": stopped_redis.url}).start()
    report = build_report(Collector(FakeNvml.from_profile("hgx-h800")).collect(), agent_id=str(agent.id),
                          sequence=1, backend="fake")
    try:
        os.kill(stopped_redis.proc.pid, signal.SIGSTOP)
        started = time.monotonic()
        response = requests.post(server.url + "/api/v1/reports", data=protocol.canonical_json(report),
                                 timeout=HANG_BOUND_SECONDS,
                                 headers={"Content-Type": "application/json", protocol.AGENT_ID_HEADER: str(agent.id),
                                          protocol.SIGNATURE_HEADER: protocol.sign(key, report)})
        print(f"answered {response.status_code} in {time.monotonic() - started:.2f} s with the broker stopped")
    finally:
        server.kill()  # a worker stuck on the broker would not stop gracefully
    assert response.status_code == 201, response.text
    assert Observation.objects.filter(report_id=report["report_id"], host_id=agent.host_id).exists()
    assert Host.objects.get(pk=agent.host_id).needs_evaluation is not None  # the sweeper's to enqueue
