"""Fixtures for the agent tests: shipped NVML profiles, the report schema, and a
stdlib HTTP server standing in for the chipwatch server (only for the remote side)."""
from __future__ import annotations

import copy
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Optional

import jsonschema
import pytest

from chipwatch_agent import nvml_fake, protocol
from chipwatch_agent.daemon import Agent
from chipwatch_agent.state import Config, Paths, save_private_key
from chipwatch_agent.transport import Backoff, Sender

AGENTS_DIR = Path(__file__).resolve().parents[3] / "agents"
AGENT_ID = "0190f5a2-7c3e-7d41-9b2a-3c4d5e6f7a8b"


# The suite-wide autouse fixtures in tests/conftest.py configure Django and Celery.
# The agent is Django-free and its tests run with `-p no:django`: same names, no-ops here.
@pytest.fixture(autouse=True)
def _celery_eager_by_default():
    yield


@pytest.fixture(autouse=True)
def _synthetic_reports_allowed():
    yield


@pytest.fixture(scope="session")
def validator():
    schema = protocol.load_schema()
    return jsonschema.validators.validator_for(schema)(schema)


@pytest.fixture
def assert_valid(validator):
    def check(report: dict) -> None:
        errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:5])
    return check


def profile(name: str) -> dict:
    """A private copy of a shipped profile snapshot, safe to edit."""
    return copy.deepcopy(nvml_fake.load_snapshot(name))


def set_outcome(snapshot: dict, function: str, outcome, handle: Optional[int] = None,
                arg: Callable = lambda args: True) -> int:
    """Make every recorded call of `function` (on `handle`, and whose args satisfy `arg`)
    answer `outcome` instead; returns how many calls were changed."""
    changed = 0
    for call in snapshot["calls"]:
        name, args, _ = call
        if name != function or not arg(args):
            continue
        if handle is not None and (not args or args[0] != {"$handle": handle}):
            continue
        call[2] = outcome
        changed += 1
    assert changed, f"no recorded {function} call matched"
    return changed


def add_call(snapshot: dict, function: str, args: list, outcome) -> None:
    snapshot["calls"].append([function, args, outcome])


# -- the remote server stand-in ----------------------------------------------------


class ServerDouble:
    """Records every request; answers from `respond(request) -> (status, body_dict, delay_s)`, and 404
    to the batch endpoint, as a server before it did (the agent then sends one by one)."""

    def __init__(self):
        self.requests: list = []
        self.respond: Callable = self.store
        self._stored: set = set()
        self._lock = threading.Lock()
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                request = {"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)}
                with double._lock:
                    double.requests.append(request)
                if self.path.endswith("/batch"):  # a server older than POST /api/v1/reports/batch
                    status, body, delay = 404, {"detail": "Not Found"}, 0
                else:
                    status, body, delay = double.respond(request)
                time.sleep(delay)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def store(self, request):
        """The contract's happy path: 201 stored, 200 duplicate for a known report_id."""
        report = json.loads(request["body"])
        with self._lock:
            duplicate = report["report_id"] in self._stored
            self._stored.add(report["report_id"])
        return (200 if duplicate else 201), {
            "status": "duplicate" if duplicate else "stored", "observation_id": len(self._stored),
            "report_id": report["report_id"],
        }, 0

    def reports(self) -> list:
        return [json.loads(r["body"]) for r in self.requests if r["path"] == "/api/v1/reports"]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    double = ServerDouble()
    yield double
    double.close()


@pytest.fixture
def agent_key():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate()


class FakeClock:
    def __init__(self, start: float = 1_790_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def enrolled(tmp_path, server, agent_key):
    """An enrolled state directory pointing at the server double; returns its Paths."""
    paths = Paths.resolve(str(tmp_path / "state"))
    paths.state_dir.mkdir(mode=0o700)
    save_private_key(paths.key, agent_key)
    Config(server_url=server.url, agent_id=AGENT_ID, host_id=7, backoff_base_seconds=1,
           backoff_cap_seconds=8, request_timeout_seconds=5).save(paths.config)
    return paths


@pytest.fixture
def make_agent(enrolled, agent_key):
    """Agent(profile or snapshot, **config overrides) on the enrolled state dir, with a fake clock."""
    def make(source="hgx-h800", clock=None, **overrides) -> Agent:
        config = Config.load(enrolled.config)
        for key, value in overrides.items():
            setattr(config, key, value)
        snapshot = source if isinstance(source, dict) else profile(source)
        clock = clock or FakeClock()
        sender = Sender(config.server_url, config.agent_id, agent_key, config.request_timeout_seconds)
        backoff = Backoff(config.backoff_base_seconds, config.backoff_cap_seconds)
        return Agent(enrolled, config, nvml_fake.FakeNvml(snapshot), "fake", sender, clock=clock, backoff=backoff)
    return make


@pytest.fixture
def load_tool():
    """The profile generator in agents/tools (not part of the installed package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_profiles", AGENTS_DIR / "tools" / "make_profiles.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture
def snapshots():
    """Helpers to load a shipped profile and edit recorded outcomes."""
    return SimpleNamespace(load=profile, set_outcome=set_outcome, add_call=add_call)


@pytest.fixture
def clock():
    return FakeClock()
