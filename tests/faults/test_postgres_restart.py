"""PostgreSQL restarted in the middle of ingest (a private throwaway cluster; gunicorn, the real
agent process and a second, hand-driven agent posting to it).  While the database is away every
report is answered 503 with the JSON error body — never a 500 or a stack trace — and the agents
keep their reports and retry.  Afterwards every report is stored exactly once, in order, and no
observation is missing any of its samples: a transaction cut by the restart left nothing behind."""
import json
import threading
import time

import psycopg
import pytest
import requests
from chipwatch_agent import protocol
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.faults.conftest import enrollment_secret
from tests.integration.conftest import wait_for
from tests.integration.servers import Gunicorn
from tests.integration.test_agent_server import agent_cmd, agent_status
from tests.reports import minimal_report

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class HandDrivenAgent(threading.Thread):
    """Posts signed reports back to back, resending each until acknowledged, like the agent does,
    and keeps every answer so the test can read what clients were told during the outage."""

    def __init__(self, base_url: str, secret: str):
        super().__init__(daemon=True)
        self.url, self.key = base_url, Ed25519PrivateKey.generate()
        enrolled = requests.post(base_url + "/api/v1/agents/enroll", timeout=10, json={
            "secret": secret, "public_key": protocol.public_key_b64(self.key), "hostname": "hand-driven",
            "machine_id": "c" * 32})
        assert enrolled.status_code == 201, enrolled.text
        self.agent_id = enrolled.json()["agent_id"]
        self.answers: list[tuple[int, str]] = []
        self.acknowledged: list[str] = []
        self.stop = threading.Event()

    def run(self):
        sequence = 1
        while not self.stop.is_set():
            report = minimal_report(self.agent_id, sequence=sequence)
            while True:
                try:
                    response = requests.post(self.url + "/api/v1/reports", data=protocol.canonical_json(report),
                                             timeout=10, headers={
                                                 "Content-Type": "application/json",
                                                 protocol.AGENT_ID_HEADER: self.agent_id,
                                                 protocol.SIGNATURE_HEADER: protocol.sign(self.key, report)})
                    self.answers.append((response.status_code, response.text))
                    if response.status_code in (200, 201):
                        break
                except requests.RequestException as exc:
                    self.answers.append((0, repr(exc)))
                time.sleep(0.05)
            self.acknowledged.append(report["report_id"])
            sequence += 1
            time.sleep(0.05)


def test_postgres_restart_during_ingest_loses_and_duplicates_nothing(own_postgres, own_redis, tmp_path):
    database_url = own_postgres.create_migrated("chipwatch")
    secret = enrollment_secret(database_url)
    server = Gunicorn(database_url, env={"CHIPWATCH_ACCEPT_SYNTHETIC": "1", "REDIS_URL": own_redis.url,
                                         "CELERY_BROKER_URL": own_redis.url}).start()
    state = tmp_path / "agent"
    daemon = hand = None
    db = psycopg.connect(database_url.replace("postgres://", "postgresql://"), autocommit=True)

    def observations() -> int:
        return db.execute("SELECT count(*) FROM inventory_observation").fetchone()[0]

    try:
        enrolled = subprocess_run(agent_cmd(state, "enroll", "--server", server.url, "--secret-file", "-"), secret)
        assert enrolled.returncode == 0, enrolled.stderr
        config = json.loads((state / "config.json").read_text())
        (state / "config.json").write_text(json.dumps(dict(config, backoff_base_seconds=0.5, backoff_cap_seconds=2)))
        daemon = popen(agent_cmd(state, "run", "--interval", "0.5"))
        hand = HandDrivenAgent(server.url, secret)
        hand.start()
        wait_for(lambda: observations() >= 6, timeout=60, what="ingest to be under way")

        db.close()
        own_postgres.stop("fast")  # terminates every session, mid-transaction where one is open
        outage_started = len(hand.answers)
        wait_for(lambda: any(s == 503 for s, _ in hand.answers[outage_started:]), timeout=20,
                 what="a 503 while PostgreSQL is down")
        time.sleep(2)
        own_postgres.start()
        db = psycopg.connect(database_url.replace("postgres://", "postgresql://"), autocommit=True)
        after_restart = observations()
        wait_for(lambda: observations() >= after_restart + 6, timeout=60, what="ingest to resume")
        hand.stop.set()
        hand.join(30)
        daemon.terminate()
        assert daemon.wait(30) == 0
        for _ in range(5):  # deliver what the daemon still had spooled when it stopped
            if agent_status(state)["spool_depth"] == 0:
                break
            subprocess_run(agent_cmd(state, "run", "--once"))
    finally:
        if hand is not None:
            hand.stop.set()
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
        server.stop()

    statuses = {status for status, _ in hand.answers}
    assert statuses <= {200, 201, 503}, statuses
    for status, body in hand.answers:
        if status == 503:
            assert json.loads(body)["error"] == "unavailable" and "Traceback" not in body
    status = agent_status(state)
    assert status["spool_depth"] == 0 and status["dropped_total"] == 0 and status["rejected_reports"] == 0

    by_agent = dict(db.execute("SELECT host.hostname, array_agg(o.sequence ORDER BY o.sequence) "
                               "FROM inventory_observation o JOIN inventory_host host ON host.id = o.host_id "
                               "GROUP BY host.hostname").fetchall())
    daemon_sequences = next(seqs for name, seqs in by_agent.items() if name != "gpu-node-01")
    assert daemon_sequences == list(range(1, status["next_sequence"])), "the daemon lost or duplicated a report"
    stored = {row[0] for row in db.execute("SELECT report_id::text FROM inventory_observation o JOIN inventory_agent a "
                                           "ON a.id = o.agent_id WHERE a.id = %s", (hand.agent_id,))}
    assert stored == set(hand.acknowledged), "an acknowledged report is missing, or an unacknowledged one stored"
    assert len(hand.acknowledged) == len(set(hand.acknowledged))
    partial = db.execute("SELECT o.id FROM inventory_observation o LEFT JOIN inventory_gpusample s "
                         "ON s.observation_id = o.id GROUP BY o.id "
                         "HAVING count(s.id) <> jsonb_array_length(o.payload->'telemetry'->'gpus')").fetchall()
    assert partial == [], "observations with missing samples"
    behind = db.execute("SELECT count(*) FROM inventory_agent a WHERE a.last_sequence <> "
                        "(SELECT max(sequence) FROM inventory_observation o WHERE o.agent_id = a.id)").fetchone()[0]
    assert behind == 0
    db.close()


def subprocess_run(cmd, stdin: str | None = None):
    import subprocess

    return subprocess.run(cmd, input=stdin, text=True, capture_output=True, timeout=60)


def popen(cmd):
    import subprocess

    return subprocess.Popen(cmd)
