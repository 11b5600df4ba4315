"""Loaded into the test Celery worker with `--include`: when CHIPWATCH_TEST_HOLD_FILE is set,
an evaluation task (the batch, or `evaluate_host`) announces it started (by creating that file)
and then stalls, so a test can SIGKILL the worker mid-task.  Test instrumentation at the worker boundary; product code is untouched."""
import os
import time
from pathlib import Path

from celery.signals import task_prerun


@task_prerun.connect
def _hold_evaluation(sender=None, **_):
    hold = os.environ.get("CHIPWATCH_TEST_HOLD_FILE")
    if hold and sender is not None and sender.name in ("compliance.tasks.evaluate_pending_hosts",
                                                      "compliance.tasks.evaluate_host"):
        Path(hold).write_text("started")
        time.sleep(60)
