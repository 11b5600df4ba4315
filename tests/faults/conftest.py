"""Throwaway PostgreSQL and Redis servers for fault tests: private ports and directories, so a
test may stop, kill and restart them without touching the services everyone else uses.  Both
are stopped in fixture teardown, also when the test fails."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.integration.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: process-level fault test (real servers, 10-60 s each); "
                                       "deselect with -m 'not slow'")


def wait_port(port: int, *, up: bool, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            if up:
                return
        except OSError:
            if not up:
                return
        time.sleep(0.1)
    raise AssertionError(f"port {port} did not go {'up' if up else 'down'} within {timeout} s")


class ThrowawayPostgres:
    """initdb + pg_ctl on a private port and socket directory (run as the postgres user when root)."""

    def __init__(self):
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not binaries and not shutil.which("pg_ctl"):
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
        self.bin = Path(binaries[-1]).parent if binaries else Path(shutil.which("pg_ctl")).parent
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.dir = Path(tempfile.mkdtemp(prefix="chipwatch-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self._run("initdb", "-D", str(self.dir / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_postgres, str(self.bin / tool), *args], check=True, capture_output=True,
                       timeout=120)

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", mode, "-w", "stop")

    def create_migrated(self, database: str) -> str:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        url = self.url(database)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True, timeout=180,
                       env=dict(os.environ, DATABASE_URL=url))
        return url

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)


class ThrowawayRedis:
    """redis-server on a private port, nothing persisted: a restart loses every queue."""

    def __init__(self):
        if not shutil.which("redis-server"):
            pytest.skip("redis-server not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--daemonize", "no"], stdout=subprocess.DEVNULL)
        wait_port(self.port, up=True)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        wait_port(self.port, up=False)


@pytest.fixture
def own_postgres():
    server = ThrowawayPostgres()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def own_redis():
    server = ThrowawayRedis()
    try:
        server.start()
        yield server
    finally:
        server.kill()


def django_shell(database_url: str, code: str) -> str:
    """Run `code` in `manage.py shell` against `database_url` (not the test database); its last output line."""
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, DATABASE_URL=database_url))
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]  # Django 5.2 announces its auto-imports first


def enrollment_secret(database_url: str) -> str:
    return django_shell(database_url, "from inventory.services.enrollment import enrollment_secret_create as c; "
                                      "print(c(label='faults')[1])")


# The real-worker fixture of tests/integration, for the evaluation faults here.
from tests.integration.conftest import celery_worker_factory  # noqa: E402,F401
