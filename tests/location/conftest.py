"""Landmarks with keys, a landmark→server link through the real API, and network namespaces."""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from chipwatch_agent import protocol
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from compliance.location.landmark import LANDMARK_HEADER, HttpServerLink
from tests.conftest import service_missing
from tests.netns import Namespace, namespaces, netns_unavailable

ROOT = Path(__file__).resolve().parents[2]

# Real places (city centres); the cluster fixture's site SG-1 is at 1.35, 103.82.
CITIES = {
    "SIN": (1.290, 103.852, "SG"),
    "HKG": (22.320, 114.170, "HK"),
    "SHA": (31.230, 121.474, "CN"),
}


@dataclass
class RegisteredLandmark:
    row: object
    private_key: Ed25519PrivateKey


@pytest.fixture
def landmarks(db):
    from compliance.location import services

    registered = {}
    for name, (lat, lon, country) in CITIES.items():
        key = Ed25519PrivateKey.generate()
        row = services.landmark_register(name=name, latitude=lat, longitude=lon, country=country,
                                         public_key=protocol.public_key_b64(key))
        registered[name] = RegisteredLandmark(row, key)
    return registered


def signed_post(client, what: str, body: dict, key, *, landmark_id=None):
    """POST a landmark-signed body to the real endpoint, as HttpServerLink does."""
    return client.post(HttpServerLink.PATHS[what], data=protocol.canonical_json(body),
                       content_type="application/json",
                       headers={LANDMARK_HEADER: str(landmark_id if landmark_id is not None else body["landmark_id"]),
                                protocol.SIGNATURE_HEADER: protocol.sign(key, body)})


class ClientServerLink:
    """The landmark's ServerLink through Django's test client: same URLs, views and services as HTTP."""

    def __init__(self, client):
        self.client = client
        self.responses = []

    def post(self, what: str, body: dict, signature: str) -> dict:
        response = self.client.post(HttpServerLink.PATHS[what], data=protocol.canonical_json(body),
                                    content_type="application/json",
                                    headers={LANDMARK_HEADER: str(body["landmark_id"]),
                                             protocol.SIGNATURE_HEADER: signature})
        self.responses.append(response)
        if response.status_code >= 400:
            raise RuntimeError(f"{what}: {response.status_code} {response.json()}")
        return response.json()


@pytest.fixture
def server_link(client):
    return ClientServerLink(client)


# --- network namespaces (shared with tests/integration/test_multinode.py and bench/load.py) -----

@pytest.fixture
def make_netns():
    """Factory for namespaces; every one is deleted at teardown, whatever the test did."""
    why = netns_unavailable()
    if why:
        service_missing(f"network namespaces (ip netns as root: {why})")
    with namespaces() as make:
        yield make


@pytest.fixture
def processes():
    """Subprocesses started by a test; terminated (then killed) at teardown."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def write_key(path: Path, key: Ed25519PrivateKey) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def start_agent(namespace: Namespace, processes: list, *, landmarks: list[tuple[str, int]], agent_id: str,
                key_file: Path, gpu: list[str] = ("--no-gpu",)) -> subprocess.Popen:
    """`python -m chipwatch_agent.challenge` inside the namespace, dialling the given landmark addresses."""
    argv = [sys.executable, "-m", "chipwatch_agent.challenge", "--agent-id", agent_id, "--key-file", str(key_file),
            *gpu]
    for host, port in landmarks:
        argv += ["--landmark", f"{host}:{port}"]
    process = namespace.popen(*argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(process)
    return process


def start_relay(namespace: Namespace, processes: list, *, listen: tuple[str, int], upstream: tuple[str, int],
                delay_ms: float) -> tuple[str, int]:
    """A DelayRelay process inside the namespace; returns the address it listens on."""
    process = namespace.popen(sys.executable, "-m", "tests.location.relay", "--listen", f"{listen[0]}:{listen[1]}",
                              "--upstream", f"{upstream[0]}:{upstream[1]}", "--delay-ms", str(delay_ms),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    processes.append(process)
    host, _, port = process.stdout.readline().strip().rpartition(":")
    return host, int(port)


def wait_for(predicate, *, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
