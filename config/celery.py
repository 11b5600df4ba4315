"""The Celery app. Without a broker (embedded mode) tasks run in-process, eagerly."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("chipwatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Queues split by kind, so a fleet re-score or a re-screening never waits behind (or holds up) the
# evaluation of fresh reports, and each kind gets its own workers (docs/scaling.md).  Opt-in: workers
# must then be started with -Q naming these queues; unrouted tasks stay on the default queue.
QUEUES_BY_KIND = {
    "ingest-evaluate": ["compliance.tasks.evaluate_pending_hosts", "compliance.tasks.evaluate_host",
                        "compliance.tasks.sweep_pending_evaluations",
                        "compliance.location.tasks.evaluate_host_location"],
    "fleet-rescore": ["compliance.tasks.rescore_fleet", "compliance.tasks.rescore_clusters"],
    "screening": ["compliance.screening.tasks.screen_organization", "compliance.screening.tasks.rescreen_all"],
}
if os.environ.get("CHIPWATCH_SPLIT_QUEUES") == "1":
    app.conf.task_routes = {task: {"queue": queue} for queue, tasks in QUEUES_BY_KIND.items() for task in tasks}

from . import metrics  # noqa: E402,F401  (connects the task-latency signals in every worker)
