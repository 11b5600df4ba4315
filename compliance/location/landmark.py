"""The landmark service: accept agents' connections, time signed answers to fresh nonces, report them signed.

An operator runs this (`manage.py run_landmark`) on a machine at a known, declared
position.  Agents dial in and stay connected (see chipwatch_agent/challenge.py for
why the agent dials); each cycle the landmark asks the server which challenges to
put, sends each agent `rounds` nonces, one at a time, timing each answer on a
monotonic clock, keeps only answers whose nonce is the outstanding one and whose
signature verifies with the agent's enrolled key, and reports them, signed with
its own key, to the server.  No Django here: the landmark talks to the server over
HTTP, so it can run anywhere.

Why every round has a fresh nonce: with one nonce, an agent could precompute the
answer after the first round and reply instantly (or have a nearby accomplice do
so).  The first 16 bytes are the server's challenge (binding the round to a
challenge the server issued and can mark used), the last 16 the landmark's fresh
randomness (unpredictable until the moment the clock starts).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from chipwatch_agent import challenge as wire
from chipwatch_agent import protocol

log = logging.getLogger("chipwatch.landmark")

LANDMARK_HEADER = "X-Chipwatch-Landmark"
CLAIM_SCHEMA = "chipwatch.location-claim/v1"
MEASUREMENT_SCHEMA = "chipwatch.location-measurement/v1"


class ServerLink(Protocol):
    """How a landmark reaches the server: post a signed body to `claim` or `measurements`, get JSON back."""

    def post(self, what: str, body: dict, signature: str) -> dict: ...


class HttpServerLink:
    """The production link: HTTPS to the chipwatch server, identifying the landmark by header."""

    PATHS = {"claim": "/api/v1/landmarks/challenges", "measurements": "/api/v1/landmarks/measurements"}

    def __init__(self, base_url: str, landmark_id: int, timeout_s: float = 15.0):
        import requests

        self.base_url, self.landmark_id, self.timeout_s = base_url.rstrip("/"), landmark_id, timeout_s
        self.session = requests.Session()

    def post(self, what: str, body: dict, signature: str) -> dict:
        response = self.session.post(
            self.base_url + self.PATHS[what], data=protocol.canonical_json(body), timeout=self.timeout_s,
            headers={"Content-Type": "application/json", LANDMARK_HEADER: str(self.landmark_id),
                     protocol.SIGNATURE_HEADER: signature})
        payload = response.json()
        if response.status_code >= 400:
            raise RuntimeError(f"server refused {what}: {response.status_code} {payload}")
        return payload

    def close(self) -> None:
        self.session.close()


@dataclass
class Outcome:
    """What one challenge produced: the report sent (None when no round was valid) and the refused answers."""

    agent_id: str
    report: dict | None
    refused: dict = field(default_factory=lambda: {"stale_nonce": 0, "bad_signature": 0, "timeout": 0})
    response: dict | None = None


class Landmark:
    def __init__(self, *, landmark_id: int, private_key, server: ServerLink, listen: tuple[str, int],
                 rounds: int = 5, answer_timeout_s: float = 2.0):
        self.landmark_id, self.private_key, self.server = landmark_id, private_key, server
        self.rounds, self.answer_timeout_s = rounds, answer_timeout_s
        self._listener = socket.create_server(listen, reuse_port=False)
        self.address = self._listener.getsockname()[:2]
        self._agents: dict[str, wire.LineSocket] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._accept_forever, daemon=True, name="landmark-accept").start()

    # -- connections --------------------------------------------------------------

    def _accept_forever(self) -> None:
        while not self._closed.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._greet, args=(wire.LineSocket(sock),), daemon=True).start()

    def _greet(self, link: wire.LineSocket) -> None:
        """Register a connection under the agent id its hello names (the answers' signatures prove it later)."""
        try:
            hello = link.receive(timeout=10)
        except (ConnectionError, OSError):
            hello = None
        if not hello or hello.get("type") != "hello" or not isinstance(hello.get("agent_id"), str):
            link.close()
            return
        with self._lock:
            previous = self._agents.pop(hello["agent_id"], None)
            self._agents[hello["agent_id"]] = link
        if previous is not None:
            previous.close()

    def connected_agents(self) -> list[str]:
        with self._lock:
            return sorted(self._agents)

    def _drop(self, agent_id: str, link: wire.LineSocket) -> None:
        with self._lock:
            if self._agents.get(agent_id) is link:
                del self._agents[agent_id]
        link.close()

    # -- measuring ----------------------------------------------------------------

    def _signed(self, body: dict) -> tuple[dict, str]:
        return body, protocol.sign(self.private_key, body)

    def run_cycle(self) -> list[Outcome]:
        """Claim challenges for the connected agents, measure each, report what verified."""
        agents = self.connected_agents()
        if not agents:
            return []
        claimed = self.server.post("claim", *self._signed(
            {"schema": CLAIM_SCHEMA, "landmark_id": self.landmark_id, "agent_ids": agents}))["challenges"]
        outcomes = []
        for issued in claimed:
            with self._lock:
                link = self._agents.get(issued["agent_id"])
            if link is None:
                continue
            outcome = self.measure(link, issued)
            if outcome.report is not None:
                outcome.response = self.server.post("measurements", *self._signed(outcome.report))
            else:
                log.warning("agent %s: no valid answer (%s)", issued["agent_id"], outcome.refused)
            outcomes.append(outcome)
        return outcomes

    def measure(self, link: wire.LineSocket, issued: dict) -> Outcome:
        """Put `rounds` fresh nonces to one agent; keep the rounds whose answer verified."""
        outcome = Outcome(agent_id=issued["agent_id"], report=None)
        rounds = []
        try:
            for _ in range(self.rounds):
                entry = self._round(link, issued, outcome.refused)
                if entry is not None:
                    rounds.append(entry)
        except (ConnectionError, OSError) as exc:
            log.info("agent %s disconnected: %s", issued["agent_id"], exc)
            self._drop(issued["agent_id"], link)
        if rounds:
            outcome.report = {
                "schema": MEASUREMENT_SCHEMA, "landmark_id": self.landmark_id, "agent_id": issued["agent_id"],
                "challenge_nonce": issued["nonce"], "rounds": rounds,
                "measured_at": datetime.now(timezone.utc).isoformat(),
            }
        return outcome

    def _round(self, link: wire.LineSocket, issued: dict, refused: dict) -> dict | None:
        nonce = bytes.fromhex(issued["nonce"]) + os.urandom(wire.NONCE_BYTES - wire.CHALLENGE_BYTES)
        started = time.perf_counter_ns()
        link.send({"type": "challenge", "nonce": nonce.hex()})
        deadline = time.monotonic() + self.answer_timeout_s
        while True:
            reply = link.receive(timeout=max(0.0, deadline - time.monotonic()))
            elapsed_ns = time.perf_counter_ns() - started
            if reply is None:
                refused["timeout"] += 1
                return None
            if reply.get("type") != "answer" or reply.get("nonce") != nonce.hex():
                refused["stale_nonce"] += 1  # an answer to an earlier nonce cannot count for this one
                continue
            signature = reply.get("signature")
            evidence = reply.get("gpu_evidence")
            if not isinstance(signature, str) or not wire.verify_nonce(issued["agent_public_key"], nonce, signature):
                refused["bad_signature"] += 1
                return None
            return {"nonce": nonce.hex(), "rtt_ms": elapsed_ns / 1e6, "signature": signature,
                    "gpu_evidence": evidence if isinstance(evidence, dict) else wire.unsupported()}

    def serve_forever(self, *, interval_s: float) -> None:
        while not self._closed.wait(interval_s):
            try:
                self.run_cycle()
            except Exception:  # the server is unreachable or refused: keep the agents, try next cycle
                log.exception("landmark cycle failed")

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            links, self._agents = list(self._agents.values()), {}
        for link in links:
            link.close()
