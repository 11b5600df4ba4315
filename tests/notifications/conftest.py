"""A real HTTP receiver on 127.0.0.1 (threaded http.server) and helpers to raise findings."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.integration.conftest import celery_worker_factory  # noqa: F401  (fixture)


@dataclass
class Received:
    headers: dict
    body: bytes
    at: float


@dataclass
class Receiver:
    """Answers `fail_status` to the first `fail_first` requests, then 200; keeps every request."""

    fail_first: int = 0
    fail_status: int = 500
    requests: list[Received] = field(default_factory=list)
    url: str = ""

    def handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(Received(dict(self.headers), body, time.monotonic()))
                failing = len(receiver.requests) <= receiver.fail_first
                self.send_response(receiver.fail_status if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def receiver_factory():
    servers = []

    def start(**options) -> Receiver:
        receiver = Receiver(**options)
        server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/chipwatch"
        servers.append(server)
        return receiver

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def raise_finding(db):
    """Raise a finding through finding_raise, as detectors do (commit callbacks run by the caller)."""
    from compliance.findings import FindingSpec, finding_raise
    from compliance.models import Finding
    from inventory.models import Organization

    organization = Organization.objects.create(name="Northwind Compute", country_of_incorporation="SG",
                                               headquarters_country="SG")

    def run(*, severity=Finding.Severity.CRITICAL, key="denied_party_match:organization:test"):
        return finding_raise(spec=FindingSpec(
            kind="denied_party_match", severity=severity, subject_type=Finding.Subject.ORGANIZATION,
            subject_id=organization.pk, organization_id=organization.pk, dedup_key=key,
            title="Northwind Compute resembles Huawei Technologies Co., Ltd. (EL), score 0.97",
            citation="15 CFR 744.11 (Entity List, Supp. No. 4 to part 744)",
            figures={"score": 0.97, "entry_name": "Huawei Technologies Co., Ltd."}))

    return run
