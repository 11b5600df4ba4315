"""`make run`'s `manage.py demo`: stopping it stops its simulated fleet, whatever signal ends it."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLEET_SIZE = 12  # inventory.demo.CLUSTERS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _agents_of(var_dir: Path) -> set[int]:
    """Every live `chipwatch_agent run` whose state lies under this demo's var dir, whoever its parent is now."""
    marker = str(var_dir).encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rpartition(") ")[2][:1]
        except OSError:
            continue
        if b"chipwatch_agent\x00run" in cmdline and marker in cmdline and state != "Z":
            found.add(int(entry.name))
    return found


@pytest.fixture
def embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env.update(CHIPWATCH_VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1", DJANGO_SETTINGS_MODULE="config.settings")
    migrated = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
    assert migrated.returncode == 0, migrated.stderr
    return env


def _start_demo(env, tmp_path):
    log = open(tmp_path / "demo.log", "w+")
    proc = subprocess.Popen([sys.executable, "manage.py", "demo", "--addr", f"127.0.0.1:{_free_port()}",
                             "--interval", "60"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, log


def _wait_for(predicate, timeout: float, what: str, log):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    log.seek(0)
    pytest.fail(f"timed out waiting for {what}; demo output:\n{log.read()[-3000:]}")


@pytest.mark.parametrize("signum, when", [(signal.SIGTERM, "fleet up"), (signal.SIGINT, "fleet starting")])
def test_stopping_the_demo_stops_every_agent(embedded_env, tmp_path, signum, when):
    proc, log = _start_demo(embedded_env, tmp_path)
    wanted = FLEET_SIZE if when == "fleet up" else 1
    try:
        _wait_for(lambda: len(_agents_of(tmp_path)) >= wanted, 240, f"{wanted} agent(s)", log)
        proc.send_signal(signum)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        survivors = _agents_of(tmp_path)
        for pid in survivors:  # never leave them behind, even when the assertion below fails
            os.kill(pid, signal.SIGKILL)
    assert not survivors, f"agents still running after {signal.Signals(signum).name}: {sorted(survivors)}"
    assert proc.returncode == 0
