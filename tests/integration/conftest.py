"""A real Celery worker process on the real broker, against the test database."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    def __init__(self, database_url: str, broker_url: str, queue: str, *, launcher: tuple[str, ...] = (),
                 name: str = "%h"):
        """`launcher` prefixes the command (e.g. `ip netns exec NAME`); `name` tells workers apart."""
        self.database_url, self.broker_url, self.queue = database_url, broker_url, queue
        self.launcher, self.name = launcher, name
        self.proc: subprocess.Popen | None = None

    def start(self, **extra_env):
        env = dict(os.environ, DATABASE_URL=self.database_url, REDIS_URL=self.broker_url,
                   CELERY_BROKER_URL=self.broker_url, CELERY_QUEUE=self.queue, CHIPWATCH_ACCEPT_SYNTHETIC="1",
                   CHIPWATCH_SWEEP_AFTER_SECONDS="0",  # the tests sweep at once, as if minutes had passed
                   DJANGO_SETTINGS_MODULE="config.settings", **extra_env)
        self.proc = subprocess.Popen(
            [*self.launcher, sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "solo", "-Q", self.queue,
             "--include", "tests.integration.worker_hooks", "--loglevel", "WARNING", "-n", f"{self.queue}@{self.name}"],
            cwd=ROOT, env=env)
        return self

    def kill(self):
        """SIGKILL: no warm shutdown, no chance to ack or requeue."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def celery_worker_factory(postgres_url, redis_url, transactional_db, settings):
    """Yields a function that starts a worker on a queue private to this test."""
    from django.db import connection

    from config.celery import app

    test_db = connection.settings_dict["NAME"]
    database_url = postgres_url.rsplit("/", 1)[0] + "/" + test_db
    queue = f"test-{uuid.uuid4().hex[:8]}"
    previous = (app.conf.task_always_eager, app.conf.task_default_queue, app.conf.broker_url)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    app.conf.broker_url = redis_url
    workers: list[WorkerProcess] = []

    def start(**extra_env) -> WorkerProcess:
        worker = WorkerProcess(database_url, redis_url, queue).start(**extra_env)
        workers.append(worker)
        return worker

    start.queue = queue
    yield start
    for worker in workers:
        worker.stop()
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)
    app.conf.task_always_eager, app.conf.task_default_queue, app.conf.broker_url = previous


def wait_for(predicate, timeout: float = 45, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
