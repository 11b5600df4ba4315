"""`/metrics`: ingest answers and refusals as counted, outbox and agents as the database holds them."""
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.reports import minimal_report, signed_post

pytestmark = pytest.mark.django_db


def scrape(client, **headers) -> dict[tuple, float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_ingest_answers_and_refusal_reasons_are_counted(client, enrolled_agent):
    agent, key = enrolled_agent
    before = scrape(client)
    assert signed_post(client, minimal_report(str(agent.id)), key).status_code == 201
    bad = minimal_report(str(agent.id), sequence=1)
    response = signed_post(client, bad, key, body=b'{"not": "a report"}')
    assert response.status_code == 400
    after = scrape(client)

    assert value(after, "chipwatch_ingest_requests_total", endpoint="report", status="201") \
        == value(before, "chipwatch_ingest_requests_total", endpoint="report", status="201") + 1
    refused = response.json()["error"]
    assert value(after, "chipwatch_ingest_refusals_total", endpoint="report", reason=refused) \
        == value(before, "chipwatch_ingest_refusals_total", endpoint="report", reason=refused) + 1
    assert value(after, "chipwatch_ingest_seconds_count", endpoint="report") \
        == value(before, "chipwatch_ingest_seconds_count", endpoint="report") + 2


def test_backlog_and_oldest_mark_come_from_the_outbox(client, enrolled_agent):
    from django.utils import timezone

    from inventory.models import Host

    agent, _ = enrolled_agent
    Host.objects.filter(pk=agent.host_id).update(needs_evaluation=timezone.now() - timezone.timedelta(seconds=90))
    samples = scrape(client)
    assert value(samples, "chipwatch_evaluation_backlog_hosts") == Host.objects.filter(
        needs_evaluation__isnull=False).count() == 1
    assert 90 <= value(samples, "chipwatch_evaluation_oldest_mark_age_seconds") < 120

    Host.objects.update(needs_evaluation=None)
    samples = scrape(client)
    assert value(samples, "chipwatch_evaluation_backlog_hosts") == 0
    assert value(samples, "chipwatch_evaluation_oldest_mark_age_seconds") == 0


def test_agents_are_bucketed_by_key_state_and_last_seen(client, enrolled_agent):
    from django.utils import timezone

    from inventory.models import Agent

    agent, _ = enrolled_agent
    Agent.objects.filter(pk=agent.pk).update(last_seen=timezone.now() - timezone.timedelta(minutes=10))
    samples = scrape(client)
    assert value(samples, "chipwatch_agents", key_state="live", last_seen="lt_1h") == 1
    assert value(samples, "chipwatch_agents", key_state="live", last_seen="lt_1m") == 0
    assert sum(value(samples, "chipwatch_agents", key_state="live", last_seen=bucket)
               for bucket in ("never", "lt_1m", "lt_5m", "lt_1h", "lt_1d", "ge_1d")) == Agent.objects.count()


def test_task_latency_is_recorded_for_tasks_that_ran(client, enrolled_agent):
    from compliance.tasks import sweep_pending_evaluations

    before = value(scrape(client), "chipwatch_task_seconds_count", task="compliance.tasks.sweep_pending_evaluations")
    sweep_pending_evaluations.apply()
    after = value(scrape(client), "chipwatch_task_seconds_count", task="compliance.tasks.sweep_pending_evaluations")
    assert after == before + 1


def test_a_configured_token_is_required(client, settings):
    settings.CHIPWATCH_METRICS_TOKEN = "s3cret-metrics"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics").status_code == 200


@pytest.mark.integration
def test_counters_add_up_across_gunicorn_workers(postgres_url, transactional_db, tmp_path):
    """Each of 3 workers counts its own answers; with a shared directory /metrics reports their sum."""
    from django.db import connection

    from tests.integration.servers import gunicorn

    test_db = postgres_url.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    sent = 0
    with gunicorn(test_db, workers=3, env=env) as url:
        # Which worker accepts a connection is the kernel's choice: send concurrent rounds until two workers
        # have answered (bounded), so the sum below is really across workers.
        with ThreadPoolExecutor(max_workers=12) as pool:
            while sent < 600 and len(list((tmp_path / "metrics").glob("counter_*.db"))) < 2:
                codes = list(pool.map(lambda _: refused_report(url), range(24)))
                assert set(codes) <= {400, 401}
                sent += len(codes)
        text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    counted = sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                  if sample.name == "chipwatch_ingest_requests_total" and sample.labels["endpoint"] == "report")
    assert counted == sent
    assert len(list((tmp_path / "metrics").glob("counter_*.db"))) >= 2, "the answers came from one worker only"


def refused_report(url):
    """POST an unsigned report; the answer code (400 or 401) is what the worker counted."""
    request = urllib.request.Request(url + "/api/v1/reports", data=b"[]", method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as refused:
        return refused.code
    return 200
