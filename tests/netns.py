"""Network namespaces joined to ours by veth pairs, for tests and benches that need separate machines.

Each namespace has its own network stack: its 127.0.0.1 is its own, and it reaches us only over its
veth pair (`outside_ip`).  Services of ours that listen on loopback (PostgreSQL, Redis) are made
reachable from a namespace by a port forwarder bound to that namespace's `outside_ip`.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_counter = itertools.count(1)


@dataclass(frozen=True)
class Namespace:
    """A network namespace joined to ours by a veth pair: we are `outside_ip`, it is `inside_ip`."""

    name: str
    inside_ip: str
    outside_ip: str

    @property
    def launcher(self) -> tuple[str, ...]:
        """argv prefix that runs a command inside the namespace (`ip netns exec` execs it: same pid)."""
        return ("ip", "netns", "exec", self.name)

    def popen(self, *argv: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen([*self.launcher, *argv], cwd=ROOT, **kwargs)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10)


def netns_unavailable() -> str | None:
    """Why namespaces cannot be made here (not root, no `ip`, refused by the kernel), or None."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("ip") is None:
        return "no `ip` command"
    probe = f"cwlp{os.getpid() % 100000}"
    result = _ip("netns", "add", probe, check=False)
    if result.returncode != 0:
        return f"`ip netns add` failed: {result.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@contextlib.contextmanager
def namespaces():
    """Yields a factory of namespaces; every one is deleted on exit, whatever the caller did."""
    created: list[tuple[str, str]] = []
    pid = os.getpid()

    def make() -> Namespace:
        n = next(_counter)
        tag = f"{pid % 100000}x{n}"
        name, outside, inside = f"cwl{tag}", f"cwo{tag}", f"cwi{tag}"
        subnet = f"10.{100 + pid % 100}.{n % 250}"
        created.append((name, outside))
        _ip("netns", "add", name)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", name)
        _ip("addr", "add", f"{subnet}.1/30", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("-n", name, "addr", "add", f"{subnet}.2/30", "dev", inside)
        _ip("-n", name, "link", "set", inside, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        return Namespace(name, f"{subnet}.2", f"{subnet}.1")

    try:
        yield make
    finally:
        for name, outside in created:
            _ip("netns", "del", name, check=False)
            _ip("link", "del", outside, check=False)


@contextlib.contextmanager
def forwarded(listen_ip: str, upstream: tuple[str, int]):
    """A TCP port on `listen_ip` forwarding to `upstream`; yields the port.

    socat (one process per connection, copying in C) when installed, so a bench does not measure a
    Python relay; otherwise the suite's own relay with no added delay."""
    if shutil.which("socat"):
        with socket.socket() as probe:
            probe.bind((listen_ip, 0))
            port = probe.getsockname()[1]
        process = subprocess.Popen(["socat", f"TCP-LISTEN:{port},bind={listen_ip},fork,reuseaddr",
                                    f"TCP:{upstream[0]}:{upstream[1]}"], stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        try:
            _wait_listening(listen_ip, port, process)
            yield port
        finally:  # the forked child of every open connection too
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        return
    from tests.location.relay import DelayRelay

    relay = DelayRelay(listen=(listen_ip, 0), upstream=upstream, one_way_delay_s=0)
    try:
        yield relay.address[1]
    finally:
        relay.close()


def _wait_listening(ip: str, port: int, process: subprocess.Popen) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise RuntimeError(f"socat exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((ip, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"socat did not listen on {ip}:{port}")
