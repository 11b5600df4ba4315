"""The agent against a real server: gunicorn on loopback, real PostgreSQL, the installed
`chipwatch-agent` on a fake-NVML profile.  The server goes away for several cycles and the
agent restarts in between: every report still arrives exactly once and in order.
Forged and replayed reports are refused."""
import json
import signal
import subprocess
import sys
import time

import pytest
import requests
from chipwatch_agent import protocol
from chipwatch_agent.state import Paths, load_private_key

from inventory.models import Observation
from inventory.services.enrollment import enrollment_secret_create
from tests.integration.conftest import wait_for
from tests.integration.servers import Gunicorn

pytestmark = pytest.mark.integration
AGENT = [sys.executable, "-m", "chipwatch_agent"]


def agent_cmd(state, *args):
    return [*AGENT, *args, "--state-dir", str(state), "--fake-nvml", "hgx-h800", "--log-level", "WARNING"]


def agent_status(state) -> dict:
    out = subprocess.run([*AGENT, "status", "--json", "--state-dir", str(state)], capture_output=True, text=True)
    return json.loads(out.stdout)


@pytest.fixture
def server(postgres_url, transactional_db):
    from django.db import connection

    database_url = postgres_url.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    server = Gunicorn(database_url, env={"CHIPWATCH_ACCEPT_SYNTHETIC": "1", "REDIS_URL": "",
                                         "CELERY_BROKER_URL": ""}).start()
    yield server
    server.stop()


def test_outage_and_restart_lose_nothing_and_keep_order(server, cluster, tmp_path):
    _, secret = enrollment_secret_create(label="it", cluster=cluster, max_uses=1)
    state = tmp_path / "agent"
    enrolled = subprocess.run(agent_cmd(state, "enroll", "--server", server.url, "--secret-file", "-"),
                              input=secret, text=True, capture_output=True)
    assert enrolled.returncode == 0, enrolled.stderr
    run = agent_cmd(state, "run", "--interval", "1")
    agent = subprocess.Popen(run)
    try:
        wait_for(lambda: Observation.objects.count() >= 2, what="the first reports")
        server.stop()  # outage: the agent keeps collecting into its spool
        wait_for(lambda: agent_status(state)["spool_depth"] >= 2, what="reports to pile up in the spool")
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(20) == 0  # a clean exit mid-outage
        agent = subprocess.Popen(run)  # restarted agent resumes from the spool
        wait_for(lambda: agent_status(state)["spool_depth"] >= 4, what="more reports while the server is down")
        server.start()
        wait_for(lambda: agent_status(state)["spool_depth"] == 0 and Observation.objects.count() >= 6,
                 what="the spool to drain")
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(20)
    wait_for(lambda: agent_status(state)["spool_depth"] == 0, what="the last report to be acknowledged")
    status = agent_status(state)
    sequences = list(Observation.objects.order_by("received_at", "id").values_list("sequence", flat=True))
    assert sequences == sorted(sequences), "reports arrived out of order"
    assert sequences == list(range(1, status["next_sequence"])), "a report was lost or stored twice"
    assert status["dropped_total"] == 0 and status["rejected_reports"] == 0


def test_forged_and_replayed_reports_are_refused(server, cluster, tmp_path):
    _, secret = enrollment_secret_create(label="it", cluster=cluster, max_uses=1)
    state = tmp_path / "agent"
    subprocess.run(agent_cmd(state, "enroll", "--server", server.url, "--secret-file", "-"), input=secret,
                   text=True, check=True, capture_output=True)
    subprocess.run(agent_cmd(state, "run", "--once"), check=True)
    stored = Observation.objects.get()
    report, agent_id = stored.payload, str(stored.agent_id)
    key = load_private_key(Paths.resolve(str(state)).key)  # the host owner's stolen-key case below

    def post(body: dict, signature: str):
        return requests.post(server.url + "/api/v1/reports", data=protocol.canonical_json(body), timeout=10,
                             headers={"Content-Type": "application/json", protocol.AGENT_ID_HEADER: agent_id,
                                      protocol.SIGNATURE_HEADER: signature})

    original_signature = protocol.sign(key, report)
    replay = post(report, original_signature)  # an exact replay is acknowledged, never stored twice
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    forged = dict(report, report_id="01900000-0000-7000-8000-000000000001", sequence=report["sequence"] + 1)
    forged["host"] = dict(report["host"], hostname="not-where-you-think")
    refused = post(forged, original_signature)  # the signature of another report
    assert refused.status_code == 401 and refused.json()["error"] == "bad_signature"
    stale = dict(forged, sequence=report["sequence"])  # even a stolen key cannot rewind the sequence
    regression = post(stale, protocol.sign(key, stale))
    assert regression.status_code == 409 and regression.json()["error"] == "sequence_regression"
    assert Observation.objects.count() == 1
