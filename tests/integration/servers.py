"""Real servers on loopback for tests and benches: gunicorn serving chipwatch."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """chipwatch under gunicorn on `host`:`port`; start/stop may repeat on the same port.

    `launcher` prefixes the command (e.g. `ip netns exec NAME` to run it in a network namespace)."""

    NAME = "gunicorn"

    def __init__(self, database_url: str, *, port: int | None = None, workers: int = 2, env: dict | None = None,
                 host: str = "127.0.0.1", launcher: tuple[str, ...] = (), boot_timeout: float = 30):
        self.port = port or free_port()
        self.url = f"http://{host}:{self.port}"
        self.host, self.launcher, self.workers, self.boot_timeout = host, launcher, workers, boot_timeout
        self.env = dict(os.environ, DATABASE_URL=database_url, LOG_LEVEL="WARNING", DEBUG="0", **(env or {}))
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "-c", "python:config.gunicorn", "config.wsgi:application",
                "-b", f"{self.host}:{self.port}", "-w", str(self.workers), "--log-level", "warning"]

    def start(self) -> "Gunicorn":
        self.proc = subprocess.Popen([*self.launcher, *self.command()], cwd=ROOT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + self.boot_timeout
        while time.monotonic() < deadline:
            try:
                urlopen(self.url + "/healthz", timeout=1).read()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.NAME} exited with {self.proc.returncode}")
                time.sleep(0.1)
        raise RuntimeError(f"{self.NAME} did not answer /healthz within {self.boot_timeout} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)

    def kill(self) -> None:
        """SIGKILL to the master and its workers at once, as when the machine dies."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@contextlib.contextmanager
def gunicorn(database_url: str, **kwargs):
    server = Gunicorn(database_url, **kwargs).start()
    try:
        yield server.url
    finally:
        server.stop()
