"""The Celery app. Without a broker (embedded mode) tasks run in-process, eagerly."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("chipwatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from . import metrics  # noqa: E402,F401  (connects the task-latency signals in every worker)
