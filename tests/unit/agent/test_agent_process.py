"""The agent as a process: enrollment, SIGTERM during a send, restart from the spool."""
from __future__ import annotations

import base64
import json
import signal
import stat
import subprocess
import sys
import time
import uuid

from chipwatch_agent import protocol
from chipwatch_agent.state import AgentState, Config, Paths

ENROLLED_AGENT = "0190f5a2-0000-7000-8000-00000000abcd"


def agent_cli(*args, input=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "chipwatch_agent", *args], capture_output=True, text=True,
                          input=input, timeout=timeout)


def enrollment_server(server, status=201):
    def respond(request):
        if request["path"] == "/api/v1/agents/enroll":
            if status != 201:
                return status, {"error": "bad_secret"}, 0
            return 201, {"agent_id": ENROLLED_AGENT, "host_id": 42}, 0
        return server.store(request)
    server.respond = respond


def wait_for(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_enroll_registers_the_public_key_and_stores_secrets_0600(tmp_path, server):
    enrollment_server(server)
    state_dir = tmp_path / "state"
    done = agent_cli("enroll", "--server", server.url, "--secret", "s3cret", "--state-dir", str(state_dir))
    assert done.returncode == 0, done.stderr
    (request,) = server.requests
    body = json.loads(request["body"])
    assert request["path"] == "/api/v1/agents/enroll"
    assert set(body) == {"secret", "public_key", "hostname", "machine_id"} and body["secret"] == "s3cret"
    assert len(base64.b64decode(body["public_key"])) == 32

    paths = Paths.resolve(str(state_dir))
    for secret_file in (paths.key, paths.config):
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    config = Config.load(paths.config)
    assert (config.server_url, config.agent_id, config.host_id) == (server.url, ENROLLED_AGENT, 42)

    # a report sent afterwards verifies with the key that was registered
    done = agent_cli("run", "--once", "--fake-nvml", "hgx-h800", "--state-dir", str(state_dir))
    assert done.returncode == 0, done.stderr
    report_request = server.requests[-1]
    report = json.loads(report_request["body"])
    headers = {key.lower(): value for key, value in report_request["headers"].items()}
    assert headers[protocol.AGENT_ID_HEADER.lower()] == ENROLLED_AGENT == report["agent_id"]
    assert protocol.verify(body["public_key"], report, headers[protocol.SIGNATURE_HEADER.lower()])

    status = agent_cli("status", "--json", "--state-dir", str(state_dir))
    assert status.returncode == 0
    shown = json.loads(status.stdout)
    assert shown["enrolled"] and shown["spool_depth"] == 0 and shown["last_success_at"]


def test_enroll_twice_needs_force(tmp_path, server):
    enrollment_server(server)
    args = ("enroll", "--server", server.url, "--secret-file", "-", "--state-dir", str(tmp_path))
    assert agent_cli(*args, input="s3cret\n").returncode == 0
    again = agent_cli(*args, input="s3cret\n")
    assert again.returncode == 3 and "already enrolled" in again.stderr
    assert agent_cli(*args, "--force", input="s3cret\n").returncode == 0
    assert json.loads(server.requests[-1]["body"])["secret"] == "s3cret"


def test_enroll_refused_by_server(tmp_path, server):
    enrollment_server(server, status=403)
    done = agent_cli("enroll", "--server", server.url, "--secret", "wrong", "--state-dir", str(tmp_path))
    assert done.returncode == 1 and "HTTP 403" in done.stderr
    assert not (tmp_path / "config.json").exists()


def test_enroll_rejects_a_url_with_credentials(tmp_path):
    done = agent_cli("enroll", "--server", "https://user:pw@example.com", "--secret", "x", "--state-dir", str(tmp_path))
    assert done.returncode == 3 and "credentials" in done.stderr


def test_sigterm_finishes_the_current_send_and_exits_0(enrolled, server):
    slow_reply_s = 1.5

    def slow_store(request):
        status, body, _ = server.store(request)
        return status, body, slow_reply_s

    server.respond = slow_store
    agent = subprocess.Popen(
        [sys.executable, "-m", "chipwatch_agent", "run", "--fake-nvml", "hgx-h800", "--interval", "3600",
         "--state-dir", str(enrolled.state_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: len(server.requests) == 1)
        signalled = time.monotonic()
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=20) == 0, agent.stderr.read().decode()
        assert time.monotonic() - signalled > slow_reply_s / 2  # it waited for the answer
    finally:
        if agent.poll() is None:
            agent.kill()
    assert list(enrolled.spool.glob("*.json")) == []  # acknowledged, so removed
    assert AgentState.load(enrolled.state).last_success_at


def test_restart_resumes_from_the_spool(enrolled, server):
    server.respond = lambda request: (503, {"error": "down"}, 0)
    args = ("run", "--once", "--fake-nvml", "hgx-h800", "--state-dir", str(enrolled.state_dir))
    for _ in range(3):
        assert agent_cli(*args).returncode == 0
    assert len(list(enrolled.spool.glob("*.json"))) == 3
    server.respond = server.store
    server.requests.clear()
    assert agent_cli(*args).returncode == 0
    assert [report["sequence"] for report in server.reports()] == [1, 2, 3, 4]
    assert list(enrolled.spool.glob("*.json")) == []
    assert len({report["report_id"] for report in server.reports()}) == 4
    assert all(uuid.UUID(report["report_id"]).version == 7 for report in server.reports())


def test_status_shows_the_last_error(enrolled, server):
    server.respond = lambda request: (401, {"error": "unknown_agent"}, 0)
    agent_cli("run", "--once", "--fake-nvml", "l20", "--state-dir", str(enrolled.state_dir))
    shown = json.loads(agent_cli("status", "--json", "--state-dir", str(enrolled.state_dir)).stdout)
    assert shown["unauthorized"] is True and shown["spool_depth"] == 1 and "401" in shown["last_error"]


def test_a_second_run_on_the_same_state_dir_is_refused(enrolled, server):
    def slow_store(request):
        status, body, _ = server.store(request)
        return status, body, 1.0

    server.respond = slow_store
    first = subprocess.Popen([sys.executable, "-m", "chipwatch_agent", "run", "--fake-nvml", "l20",
                              "--interval", "3600", "--state-dir", str(enrolled.state_dir)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: len(server.requests) == 1)
        second = agent_cli("run", "--once", "--fake-nvml", "l20", "--state-dir", str(enrolled.state_dir))
        assert second.returncode == 1 and "another chipwatch-agent run" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=20) == 0


def test_run_answers_the_configured_landmarks(tmp_path, server, enrolled, agent_key):
    """`run` dials out to each landmark in its config and signs the nonces it is sent."""
    import socket

    from chipwatch_agent.challenge import verify_nonce

    paths = enrolled
    listener = socket.create_server(("127.0.0.1", 0))
    config = Config.load(paths.config)
    config.landmarks = [f"127.0.0.1:{listener.getsockname()[1]}"]
    config.save(paths.config)
    agent = subprocess.Popen([sys.executable, "-m", "chipwatch_agent", "run", "--state-dir", str(paths.state_dir),
                              "--fake-nvml", "hgx-h200", "--interval", "60"])
    try:
        listener.settimeout(20)
        conn, _ = listener.accept()
        lines = conn.makefile("rwb")
        hello = json.loads(lines.readline())
        nonce = uuid.uuid4().bytes * 2
        lines.write(json.dumps({"type": "challenge", "nonce": nonce.hex()}).encode() + b"\n")
        lines.flush()
        reply = json.loads(lines.readline())
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(20)
        listener.close()
    assert hello["agent_id"] == config.agent_id
    assert reply["type"] == "answer" and reply["nonce"] == nonce.hex()
    assert verify_nonce(protocol.public_key_b64(agent_key), nonce, reply["signature"])
    # hgx-h200 replays a confidential-computing report: sent, and marked as coming from the fake.
    assert reply["gpu_evidence"]["synthetic"] is True and reply["gpu_evidence"]["report_b64"]
