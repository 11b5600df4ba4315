"""Queues split by kind (config/celery.py, docs/scaling.md): every routed name is a task that exists, and
with CHIPWATCH_SPLIT_QUEUES=1 each is published to its kind's queue while the rest stay on the default."""
import json
import os
import subprocess
import sys

from config.celery import QUEUES_BY_KIND, app

UNROUTED = "compliance.attestation.tasks.sweep_pending_attestations"
PROBE = """import json, sys, django
django.setup()
from config.celery import app
print(json.dumps({name: app.amqp.router.route({}, name)["queue"].name for name in sys.argv[1:]}))"""


def test_every_routed_task_exists():
    app.loader.import_default_modules()
    routed = {task for tasks in QUEUES_BY_KIND.values() for task in tasks}
    assert routed <= set(app.tasks), routed - set(app.tasks)


def test_the_switch_routes_each_kind_to_its_queue():
    names = [task for tasks in QUEUES_BY_KIND.values() for task in tasks] + [UNROUTED]
    env = dict(os.environ, CHIPWATCH_SPLIT_QUEUES="1", CELERY_BROKER_URL="memory://localhost/", CELERY_QUEUE="celery",
               DJANGO_SETTINGS_MODULE="config.settings")
    out = subprocess.run([sys.executable, "-c", PROBE, *names], capture_output=True, text=True, env=env, check=True)
    queues = json.loads(out.stdout.strip().splitlines()[-1])
    assert queues == {**{task: queue for queue, tasks in QUEUES_BY_KIND.items() for task in tasks},
                      UNROUTED: "celery"}
