"""gunicorn settings (`gunicorn -c python:config.gunicorn`): bookkeeping for multiprocess Prometheus metrics.

With `PROMETHEUS_MULTIPROC_DIR` set, each worker writes its counters to files there and `/metrics` adds them
up (config/metrics.py); a stale file from a previous run would be added too, and a dead worker's live gauges
must be dropped.
"""
import os
from pathlib import Path

from prometheus_client import multiprocess


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
