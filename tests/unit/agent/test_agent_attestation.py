"""The agent asks the server for an attestation nonce (signed like a report) when its GPUs are in CC mode, and
the next report carries the GPUs' evidence over exactly that nonce."""
from __future__ import annotations

import base64
import json
import threading

from chipwatch_agent import protocol

NEVER = threading.Event()
NONCE = "ab" * 32


def nonce_server(server):
    store = server.store

    def respond(request):
        if request["path"] == "/api/v1/attestation/nonces":
            return 201, {"attestation_nonce": NONCE, "expires_at": "2026-12-01T00:15:00Z"}, 0
        return store(request)
    server.respond = respond


def nonce_requests(server) -> list:
    return [r for r in server.requests if r["path"] == "/api/v1/attestation/nonces"]


def test_cc_mode_host_asks_once_per_interval_and_answers_the_nonce(make_agent, server, agent_key, clock):
    nonce_server(server)
    agent = make_agent("hgx-h200", clock=clock, attestation_interval_seconds=3600)
    first = agent.collect_and_spool()  # learns the GPUs are in CC mode
    assert "attestation" not in first and not nonce_requests(server)
    clock.now += 60
    second = agent.collect_and_spool()
    (request,) = nonce_requests(server)
    body = json.loads(request["body"])
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert body["agent_id"] == agent.config.agent_id and request["body"] == protocol.canonical_json(body)
    assert protocol.verify(protocol.public_key_b64(agent_key), body, headers[protocol.SIGNATURE_HEADER.lower()])
    assert {entry["nonce"] for entry in second["attestation"]} == {NONCE}
    assert all(base64.b64decode(entry["report_b64"]) for entry in second["attestation"])
    clock.now += 60
    third = agent.collect_and_spool()  # the nonce was spent; the next is due only after the interval
    assert "attestation" not in third and len(nonce_requests(server)) == 1
    clock.now += 3600
    agent.collect_and_spool()
    assert len(nonce_requests(server)) == 2


def test_host_without_cc_never_asks(make_agent, server, clock):
    nonce_server(server)
    agent = make_agent("hgx-h800", clock=clock)
    for _ in range(3):
        agent.collect_and_spool()
        clock.now += 86400
    assert not nonce_requests(server)


def test_a_server_without_nonces_changes_nothing(make_agent, server, clock):
    agent = make_agent("hgx-h200", clock=clock)  # this double has no nonce endpoint: the request fails
    agent.collect_and_spool()
    report = agent.collect_and_spool()
    assert "attestation" not in report and agent.state.attestation_nonce is None
