"""HTTP delivery of signed reports and what each server answer means for the spool.

The server contract (docs/report-format.md):
  200/201 {"status": "stored"|"duplicate", ...}  acknowledged: remove from the spool
  428 {"error": "identity_unknown"}               resend the same report with its identity
  400, 403, 409, 413                              permanent rejection: move aside, go on
  401                                             agent/key unknown: keep everything, back off
  5xx, other codes, connection errors             keep, retry with backoff

POST /api/v1/reports/batch answers 200 {"results": [...]} with, for each report in order, the
answer above as {"http_status": ..., <that body>}; a server without it answers 404 (send one by one).
"""
from __future__ import annotations

import enum
import json
import random
import re
from dataclasses import dataclass, field
from typing import List, Optional

import requests

from . import __version__, protocol

PERMANENT_REJECTIONS = frozenset({400, 403, 409, 413})
_NONCE = re.compile(r"^[0-9a-f]{64}$")


class Verdict(enum.Enum):
    ACKNOWLEDGED = "acknowledged"
    IDENTITY_UNKNOWN = "identity_unknown"
    REJECTED = "rejected"
    UNAUTHORIZED = "unauthorized"
    RETRY = "retry"


@dataclass
class Answer:
    verdict: Verdict
    status: int  # 0 when no HTTP answer came back
    detail: str = ""
    body: dict = field(default_factory=dict)

    @property
    def attestation_nonce(self) -> Optional[str]:
        nonce = self.body.get("attestation_nonce")
        return nonce if isinstance(nonce, str) and _NONCE.match(nonce) else None


def classify(status: int, text: str) -> Answer:
    """The verdict for one HTTP answer to a report POST."""
    return _verdict(status, _json_object(text), text[:512])


def _verdict(status: int, body: dict, detail: str) -> Answer:
    if status in (200, 201):
        if body.get("status") in ("stored", "duplicate"):
            return Answer(Verdict.ACKNOWLEDGED, status, detail, body)
        return Answer(Verdict.RETRY, status, "acknowledgement without status stored/duplicate: " + detail, body)
    if status == protocol.IDENTITY_UNKNOWN_STATUS and body.get("error") == protocol.IDENTITY_UNKNOWN:
        return Answer(Verdict.IDENTITY_UNKNOWN, status, detail, body)
    if status in PERMANENT_REJECTIONS:
        return Answer(Verdict.REJECTED, status, detail, body)
    if status == 401:
        return Answer(Verdict.UNAUTHORIZED, status, detail, body)
    return Answer(Verdict.RETRY, status, detail, body)


class Sender:
    """POSTs one signed report; never raises for network trouble (that is a RETRY)."""

    def __init__(self, server_url: str, agent_id: str, private_key, timeout_s: float = 30.0,
                 session: Optional[requests.Session] = None):
        self.url = server_url.rstrip("/") + "/api/v1/reports"
        self.batch_url = self.url + "/batch"
        self.nonce_url = server_url.rstrip("/") + "/api/v1/attestation/nonces"
        self.agent_id = agent_id
        self.private_key = private_key
        self.timeout_s = timeout_s
        self.session = session or requests.Session()

    def send(self, report: dict) -> Answer:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"chipwatch-agent/{__version__}",
            protocol.AGENT_ID_HEADER: self.agent_id,
            protocol.SIGNATURE_HEADER: protocol.sign(self.private_key, report),
        }
        try:
            response = self.session.post(
                self.url, data=protocol.canonical_json(report), headers=headers,
                timeout=self.timeout_s, allow_redirects=False,
            )
        except requests.RequestException as exc:
            return Answer(Verdict.RETRY, 0, f"{type(exc).__name__}: {exc}"[:512])
        return classify(response.status_code, response.text)

    def send_batch(self, reports: List[dict]) -> Optional[List[Answer]]:
        """POST several reports in one request: one Answer per report, in order (the server stops at
        the first it would not go on from: the list may be shorter than `reports`).  None when the
        server has no batch endpoint (404/405, an older server) or refused the batch as a whole
        (400/413): send them one by one, and each gets its own answer."""
        body = {"reports": [{"report": report, "signature": protocol.sign(self.private_key, report)}
                            for report in reports]}
        headers = {"Content-Type": "application/json", "User-Agent": f"chipwatch-agent/{__version__}",
                   protocol.AGENT_ID_HEADER: self.agent_id}
        try:
            response = self.session.post(self.batch_url, data=protocol.canonical_json(body), headers=headers,
                                         timeout=self.timeout_s, allow_redirects=False)
        except requests.RequestException as exc:
            return [Answer(Verdict.RETRY, 0, f"{type(exc).__name__}: {exc}"[:512])]
        if response.status_code in (400, 404, 405, 413):
            return None
        if response.status_code != 200:
            return [classify(response.status_code, response.text)]
        results = _json_object(response.text).get("results")
        if not isinstance(results, list) or not results or len(results) > len(reports):
            return [Answer(Verdict.RETRY, 200, "batch answer without one result per report: " + response.text[:400])]
        answers = []
        for result in results:
            status = result.get("http_status") if isinstance(result, dict) else None
            if not isinstance(status, int):
                answers.append(Answer(Verdict.RETRY, 200, f"batch result without http_status: {result!r}"[:512]))
                break
            answers.append(_verdict(status, result, json.dumps(result)[:512]))
        return answers

    def request_attestation_nonce(self, requested_at: str) -> Optional[str]:
        """A fresh server nonce for the GPUs to sign (docs/attestation.md), or None when the server gave none."""
        body = {"agent_id": self.agent_id, "requested_at": requested_at}
        headers = {"Content-Type": "application/json", "User-Agent": f"chipwatch-agent/{__version__}",
                   protocol.AGENT_ID_HEADER: self.agent_id,
                   protocol.SIGNATURE_HEADER: protocol.sign(self.private_key, body)}
        try:
            response = self.session.post(self.nonce_url, data=protocol.canonical_json(body), headers=headers,
                                         timeout=self.timeout_s, allow_redirects=False)
        except requests.RequestException:
            return None
        if response.status_code != 201:
            return None
        return Answer(Verdict.ACKNOWLEDGED, response.status_code, body=_json_object(response.text)).attestation_nonce


def _json_object(text: str) -> dict:
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class Backoff:
    """Exponential backoff with full jitter: wait uniform(0, min(cap, base * 2**failures)),
    so a fleet that lost its server does not come back in lockstep."""

    def __init__(self, base_s: float, cap_s: float, rng: Optional[random.Random] = None):
        self.base_s = base_s
        self.cap_s = cap_s
        self.failures = 0
        self.rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self.failures, 62))
        self.failures += 1
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.failures = 0
