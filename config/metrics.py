"""Prometheus metrics at `/metrics`: what an operator needs to see the service keep up.

Two kinds of figures:

* **Events counted where they happen** (ingest answers by status and refusal reason, ingest latency, Celery task
  latency and failures). Each gunicorn worker and each Celery process counts its own; when
  `PROMETHEUS_MULTIPROC_DIR` is set (the production stack shares one such directory between web and worker),
  `/metrics` adds up every process's files — the prometheus-client multiprocess mode.
* **State read from the database at scrape time** (evaluation backlog and the age of its oldest mark, agents by
  how long ago they last reported and by key state). The database holds the truth (the outbox is
  `Host.needs_evaluation`), so these are exact whichever process answers the scrape.

`CHIPWATCH_METRICS_TOKEN`, when set, is required as `Authorization: Bearer <token>`: agent counts and refusal
reasons are operational intelligence, not public.
"""
from __future__ import annotations

import hmac
import time

from celery import signals as celery_signals
from django.conf import settings
from django.db.models import Count, Min, Q
from django.http import HttpResponse, HttpResponseForbidden
from django.urls import Resolver404, resolve
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, REGISTRY

INGEST_ROUTES = {"report-ingest": "report", "report-batch": "report_batch", "agent-enroll": "enroll"}

INGEST_ANSWERS = Counter(
    "chipwatch_ingest_requests_total", "Agent-facing requests by endpoint and HTTP status", ["endpoint", "status"]
)
INGEST_REFUSALS = Counter(
    "chipwatch_ingest_refusals_total", "Agent-facing requests refused, by endpoint and the stable error code",
    ["endpoint", "reason"],
)
INGEST_SECONDS = Histogram(
    "chipwatch_ingest_seconds", "Time to answer an agent-facing request", ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TASK_SECONDS = Histogram(
    "chipwatch_task_seconds", "Celery task run time by task name", ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300),
)
TASK_FAILURES = Counter("chipwatch_task_failures_total", "Celery task runs that raised, by task name", ["task"])

# Last-seen ages an operator alerts on: a report a minute is normal, five silent minutes is a stopped agent.
AGENT_AGE_BUCKETS = ((60, "lt_1m"), (300, "lt_5m"), (3600, "lt_1h"), (86400, "lt_1d"))


class DatabaseStateCollector:
    """Gauges computed from the database on each scrape (a handful of indexed aggregates)."""

    def describe(self):
        """Nothing to declare up front: registering must not query a database that may not be set up yet."""
        return []

    def collect(self):
        from inventory.models import Agent, Host

        now = timezone.now()
        pending = Host.objects.filter(needs_evaluation__isnull=False).aggregate(
            count=Count("id"), oldest=Min("needs_evaluation"))
        backlog = GaugeMetricFamily("chipwatch_evaluation_backlog_hosts",
                                    "Hosts marked as needing evaluation (the durable outbox)")
        backlog.add_metric([], pending["count"])
        yield backlog
        oldest = GaugeMetricFamily("chipwatch_evaluation_oldest_mark_age_seconds",
                                   "Age of the oldest pending evaluation mark; 0 when none is pending")
        oldest.add_metric([], (now - pending["oldest"]).total_seconds() if pending["oldest"] else 0.0)
        yield oldest

        buckets = {"never": Count("id", filter=Q(last_seen__isnull=True))}
        previous = None
        for seconds, label in AGENT_AGE_BUCKETS:
            since = now - timezone.timedelta(seconds=seconds)
            window = Q(last_seen__gte=since)
            if previous is not None:
                window &= Q(last_seen__lt=previous)
            buckets[label] = Count("id", filter=window)
            previous = since
        buckets["ge_1d"] = Count("id", filter=Q(last_seen__lt=previous))
        agents = GaugeMetricFamily("chipwatch_agents", "Agents by key state and time since their last report",
                                   labels=["key_state", "last_seen"])
        for key_state, rows in (("live", Agent.objects.filter(revoked_at__isnull=True)),
                                ("revoked", Agent.objects.filter(revoked_at__isnull=False))):
            for label, value in rows.aggregate(**buckets).items():
                agents.add_metric([key_state, label], value)
        yield agents


REGISTRY.register(DatabaseStateCollector())


def _registry():
    """The registry to expose: every process's files in multiprocess mode, else this process's own."""
    if not settings.PROMETHEUS_MULTIPROC_DIR:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(DatabaseStateCollector())
    return registry


def metrics_view(request):
    token = getattr(settings, "CHIPWATCH_METRICS_TOKEN", "")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HttpResponseForbidden("metrics need Authorization: Bearer <CHIPWATCH_METRICS_TOKEN>\n")
    return HttpResponse(generate_latest(_registry()), content_type="text/plain; version=0.0.4; charset=utf-8")


class IngestMetricsMiddleware:
    """Counts agent-facing answers, including those given before the view runs (413, 429)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            endpoint = INGEST_ROUTES.get(resolve(request.path_info).url_name)
        except Resolver404:
            endpoint = None
        if endpoint is None:
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        INGEST_SECONDS.labels(endpoint).observe(time.perf_counter() - started)
        INGEST_ANSWERS.labels(endpoint, str(response.status_code)).inc()
        if response.status_code >= 400:
            INGEST_REFUSALS.labels(endpoint, _refusal_reason(response)).inc()
        return response


def _refusal_reason(response) -> str:
    """The stable error code of a refusal (bounded label set), or the bare status when there is none."""
    data = getattr(response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    if isinstance(code, str) and code.replace("_", "").isalnum() and len(code) <= 40:
        return code
    return f"http_{response.status_code}"


_task_started: dict[str, float] = {}


@celery_signals.task_prerun.connect
def _task_prerun(task_id=None, **_):
    _task_started[task_id] = time.perf_counter()


@celery_signals.task_postrun.connect
def _task_postrun(task_id=None, task=None, **_):
    started = _task_started.pop(task_id, None)
    if started is not None and task is not None:
        TASK_SECONDS.labels(task.name).observe(time.perf_counter() - started)


@celery_signals.task_failure.connect
def _task_failure(sender=None, **_):
    if sender is not None:
        TASK_FAILURES.labels(sender.name).inc()
