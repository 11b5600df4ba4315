"""Delivery against a stand-in server: the HTTP contract, lean identities, backoff, drops."""
from __future__ import annotations

import json
import random
import threading
import uuid

import pytest

from chipwatch_agent import protocol
from chipwatch_agent.report import FULL_IDENTITY_EVERY_S, rfc3339, uuid7
from chipwatch_agent.state import AgentState
from chipwatch_agent.transport import Backoff, Verdict, classify

NEVER = threading.Event()


@pytest.mark.parametrize("status, body, verdict", [
    (201, {"status": "stored", "observation_id": 1}, Verdict.ACKNOWLEDGED),
    (200, {"status": "duplicate", "observation_id": 1}, Verdict.ACKNOWLEDGED),
    (200, {"status": "maybe"}, Verdict.RETRY),
    (428, {"error": "identity_unknown"}, Verdict.IDENTITY_UNKNOWN),
    (428, {"error": "something_else"}, Verdict.RETRY),
    (400, {"error": "schema"}, Verdict.REJECTED),
    (403, {"error": "bad_signature"}, Verdict.REJECTED),
    (409, {"error": "sequence"}, Verdict.REJECTED),
    (413, {"error": "too_large"}, Verdict.REJECTED),
    (401, {"error": "unknown_agent"}, Verdict.UNAUTHORIZED),
    (500, {}, Verdict.RETRY),
    (503, {}, Verdict.RETRY),
    (429, {}, Verdict.RETRY),
])
def test_every_status_code_has_its_verdict(status, body, verdict):
    assert classify(status, json.dumps(body)).verdict is verdict


def test_non_json_answer_is_not_an_ack():
    assert classify(201, "<html>proxy</html>").verdict is Verdict.RETRY


def test_reports_are_signed_canonical_json_with_agent_header(make_agent, server, agent_key):
    agent = make_agent()
    agent.collect_and_spool()
    agent.deliver(NEVER)
    (request,) = server.requests
    assert request["path"] == "/api/v1/reports"
    headers = {key.lower(): value for key, value in request["headers"].items()}
    assert headers["content-type"] == "application/json"
    assert headers[protocol.AGENT_ID_HEADER.lower()] == agent.config.agent_id
    report = json.loads(request["body"])
    assert request["body"] == protocol.canonical_json(report)
    assert protocol.verify(protocol.public_key_b64(agent_key), report, headers[protocol.SIGNATURE_HEADER.lower()])
    assert report["synthetic"] is True and report["agent"]["backend"] == "fake"
    assert agent.spool.entries() == [] and agent.state.last_success_at


def test_oldest_first_and_sequences_strictly_increase_across_restarts(make_agent, server):
    server.respond = lambda request: (503, {}, 0)
    agent = make_agent()
    for _ in range(3):
        agent.collect_and_spool()
    agent.deliver(NEVER)
    restarted = make_agent()
    restarted.collect_and_spool()
    server.respond = server.store
    server.requests.clear()
    restarted.deliver(NEVER)
    assert [report["sequence"] for report in server.reports()] == [1, 2, 3, 4]


def test_sequence_survives_a_lost_state_file(make_agent, enrolled):
    agent = make_agent()
    agent.collect_and_spool()
    agent.collect_and_spool()
    enrolled.state.unlink()
    assert make_agent().state.next_sequence == 3


def test_report_ids_are_time_ordered_uuid7():
    ids = [uuid7() for _ in range(2000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert uuid7(now_ms=1_700_000_000_000) < uuid7(now_ms=1_700_000_000_000)


def test_rfc3339_utc():
    assert rfc3339(0) == "1970-01-01T00:00:00.000Z"


def test_lean_after_an_acknowledged_full_report(make_agent, server, clock):
    agent = make_agent(clock=clock)
    for _ in range(3):
        agent.collect_and_spool()
        agent.deliver(NEVER)
        clock.now += 60
    sent = server.reports()
    assert ["identity" in report for report in sent] == [True, False, False]
    assert len({report["identity_sha256"] for report in sent}) == 1


def test_full_identity_again_after_restart_and_after_24h(make_agent, server, clock):
    agent = make_agent(clock=clock)
    agent.collect_and_spool()
    agent.deliver(NEVER)
    restarted = make_agent(clock=clock)
    restarted.collect_and_spool()
    restarted.deliver(NEVER)
    clock.now += 60
    restarted.collect_and_spool()
    restarted.deliver(NEVER)
    clock.now += FULL_IDENTITY_EVERY_S
    restarted.collect_and_spool()
    restarted.deliver(NEVER)
    assert ["identity" in report for report in server.reports()] == [True, True, False, True]


def test_identity_change_sends_full(make_agent, server, snapshots, clock):
    agent = make_agent("hgx-h800", clock=clock)
    agent.collect_and_spool()
    agent.deliver(NEVER)
    changed = snapshots.load("hgx-h800")
    snapshots.set_outcome(changed, "nvmlDeviceGetVbiosVersion", {"return": "96.00.99.00.01"}, handle=4)
    agent.collector.nvml.__init__(changed)
    agent.collect_and_spool()
    agent.deliver(NEVER)
    first, second = server.reports()
    assert "identity" in second and first["identity_sha256"] != second["identity_sha256"]


def test_a_lean_report_acked_does_not_extend_the_24h(make_agent, server, clock):
    agent = make_agent(clock=clock)
    agent.collect_and_spool()
    agent.deliver(NEVER)
    for _ in range(3):
        clock.now += FULL_IDENTITY_EVERY_S / 3 + 1
        agent.collect_and_spool()
        agent.deliver(NEVER)
    assert ["identity" in report for report in server.reports()] == [True, False, False, True]


def test_428_resends_the_same_report_with_identity(make_agent, server, clock):
    agent = make_agent(clock=clock)
    agent.collect_and_spool()
    agent.deliver(NEVER)
    lean_seen = []

    def forgetful(request):
        report = json.loads(request["body"])
        if "identity" not in report:
            lean_seen.append(report)
            return 428, {"error": protocol.IDENTITY_UNKNOWN}, 0
        return server.store(request)

    server.respond = forgetful
    agent.collect_and_spool()
    agent.deliver(NEVER)
    lean_report, full_report = server.reports()[1:]
    assert lean_seen == [lean_report] and "identity" in full_report
    assert (lean_report["report_id"], lean_report["sequence"]) == (full_report["report_id"], full_report["sequence"])
    assert protocol.identity_sha256(full_report["identity"]) == full_report["identity_sha256"]
    assert agent.spool.entries() == []


@pytest.mark.parametrize("status", [400, 403, 409, 413])
def test_permanent_rejection_moves_aside_and_goes_on(make_agent, server, status, caplog):
    agent = make_agent()
    agent.collect_and_spool()
    agent.collect_and_spool()
    first = [True]

    def reject_first(request):
        if first.pop() if first else False:
            return status, {"error": "nope", "detail": "bad report"}, 0
        return server.store(request)

    server.respond = reject_first
    agent.deliver(NEVER)
    assert [r["sequence"] for r in server.reports()] == [1, 2]
    assert agent.spool.entries() == []
    assert len(list((agent.spool.directory / "rejected").iterdir())) == 1
    assert agent.state.rejected_reports == 1
    assert "bad report" in caplog.text


def test_401_keeps_the_spool_backs_off_and_shows_in_status(make_agent, server, enrolled, clock):
    server.respond = lambda request: (401, {"error": "unknown_agent"}, 0)
    agent = make_agent(clock=clock)
    agent.collect_and_spool()
    agent.collect_and_spool()
    agent.deliver(NEVER)
    assert len(server.reports()) == 1 and len(agent.spool.entries()) == 2
    assert agent.retry_at > clock.now
    state = AgentState.load(enrolled.state)
    assert state.unauthorized is True and "401" in state.last_error
    agent.deliver(NEVER)  # still backing off: no request
    assert len(server.reports()) == 1


@pytest.mark.parametrize("failure", ["503", "connection"])
def test_server_trouble_keeps_reports_and_retries_after_backoff(make_agent, server, clock, failure):
    agent = make_agent(clock=clock)
    if failure == "503":
        server.respond = lambda request: (503, {"error": "maintenance"}, 0)
    else:
        agent.sender.url = "http://127.0.0.1:9/api/v1/reports"  # nothing listens on discard
    agent.collect_and_spool()
    agent.deliver(NEVER)
    assert len(agent.spool.entries()) == 1 and agent.retry_at > clock.now
    server.respond = server.store
    agent.sender.url = server.url + "/api/v1/reports"
    clock.now = agent.retry_at
    agent.deliver(NEVER)
    assert agent.spool.entries() == [] and agent.backoff.failures == 0


def test_backoff_is_full_jitter_and_capped():
    backoff = Backoff(base_s=1, cap_s=30, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(200)]
    for attempt, delay in enumerate(delays):
        assert 0 <= delay <= min(30, 2 ** attempt)
    late = delays[10:]
    assert max(late) > 25 and min(late) < 5  # spread over the whole window, not clustered at the cap
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_dropped_reports_reach_the_next_report_and_reset_after_ack(make_agent, server):
    server.respond = lambda request: (503, {}, 0)
    agent = make_agent(spool_max_files=2)
    for _ in range(5):
        agent.collect_and_spool()
    assert agent.state.dropped_unacknowledged == 3  # reports 1-3 pushed out by 4 and 5
    server.respond = server.store
    agent.retry_at = 0
    agent.collect_and_spool()  # built knowing of 3 drops; spooling it pushes report 4 out
    agent.deliver(NEVER)
    assert [(r["sequence"], r["agent"]["dropped_reports"], r["agent"]["dropped_total"])
            for r in server.reports()] == [(5, 2, 2), (6, 3, 3)]
    assert agent.state.dropped_unacknowledged == 1  # report 4's drop: not yet told
    agent.collect_and_spool()
    agent.deliver(NEVER)
    assert server.reports()[-1]["agent"]["dropped_reports"] == 1
    agent.collect_and_spool()
    agent.deliver(NEVER)
    assert server.reports()[-1]["agent"]["dropped_reports"] == 0


def test_unwritable_spool_counts_drops_and_keeps_running(make_agent, enrolled):
    agent = make_agent()
    agent.spool.directory = enrolled.state_dir / "blocker" / "spool"
    (enrolled.state_dir / "blocker").write_text("")
    assert agent.collect_and_spool() is None
    assert agent.collect_and_spool() is None
    state = AgentState.load(enrolled.state)
    assert state.dropped_total == 2 and "cannot write to spool" in state.spool_error
    assert state.next_sequence == 3


def test_attestation_nonce_from_the_ack_is_answered_next_cycle(make_agent, server, assert_valid):
    nonce = "5a" * 32

    def ask_for_evidence(request):
        status, body, delay = server.store(request)
        return status, dict(body, attestation_nonce=nonce), delay

    server.respond = ask_for_evidence
    agent = make_agent("hgx-h200")
    agent.collect_and_spool()
    agent.deliver(NEVER)
    agent.collect_and_spool()
    agent.deliver(NEVER)
    first, second = server.reports()[:2]
    assert "attestation" not in first
    assert_valid(second)
    assert [e["nonce"] for e in second["attestation"]] == [nonce] * 8
    assert all(isinstance(e["report_b64"], str) for e in second["attestation"])
