"""Evaluation through a real Celery worker, Redis and PostgreSQL: a report arrives →
classification and score appear; a worker killed mid-task or a flushed Redis loses nothing,
because the database (Host.needs_evaluation) holds the pending work."""
import pytest
import redis
from chipwatch_agent.collector import Collector
from chipwatch_agent.nvml_fake import FakeNvml
from chipwatch_agent.report import build_report

from compliance.models import ClusterScore, GpuClassification
from compliance.tasks import sweep_pending_evaluations
from inventory.models import Host
from tests.integration.conftest import wait_for
from tests.reports import signed_post

pytestmark = pytest.mark.integration


def send_h800_report(client, agent, key, sequence=0):
    report = build_report(Collector(FakeNvml.from_profile("hgx-h800")).collect(), agent_id=str(agent.id),
                          sequence=sequence, backend="fake")
    response = signed_post(client, report, key)
    assert response.status_code == 201, response.content
    return report


def evaluated(host_id):
    def check():
        host = Host.objects.get(pk=host_id)
        return host.needs_evaluation is None and ClusterScore.objects.filter(cluster_id=host.cluster_id).exists()
    return check


def assert_evaluated_once(agent):
    assert GpuClassification.objects.filter(gpu__host=agent.host_id).count() == 8
    assert set(GpuClassification.objects.values_list("catalog_model", flat=True)) == {"h800-sxm"}
    scores = ClusterScore.objects.filter(cluster_id=agent.host.cluster_id)
    assert scores.count() == 1 and scores.get().controlled_gpu_count == 8


def test_report_is_evaluated_by_the_worker(client, enrolled_agent, celery_worker_factory):
    agent, key = enrolled_agent
    celery_worker_factory()
    send_h800_report(client, agent, key)
    wait_for(evaluated(agent.host_id), what="the worker to classify and score")
    assert_evaluated_once(agent)


def test_worker_killed_mid_task_then_work_completes_after_restart(client, enrolled_agent, celery_worker_factory,
                                                                  tmp_path):
    agent, key = enrolled_agent
    hold = tmp_path / "started"
    worker = celery_worker_factory(CHIPWATCH_TEST_HOLD_FILE=str(hold))
    send_h800_report(client, agent, key)
    wait_for(hold.exists, what="evaluate_host to start")
    worker.kill()
    assert Host.objects.get(pk=agent.host_id).needs_evaluation is not None  # the pending work survived
    assert not ClusterScore.objects.exists()
    celery_worker_factory()
    sweep_pending_evaluations.delay()  # what beat does every minute
    wait_for(evaluated(agent.host_id), what="the restarted worker to finish")
    assert_evaluated_once(agent)


def test_flushed_redis_is_recovered_by_the_sweeper(client, enrolled_agent, celery_worker_factory, redis_url):
    agent, key = enrolled_agent
    send_h800_report(client, agent, key)  # enqueued while no worker runs
    redis.Redis.from_url(redis_url).flushdb()  # the queue is gone
    celery_worker_factory()
    sweep_pending_evaluations.delay()
    wait_for(evaluated(agent.host_id), what="the sweeper to recover the lost evaluation")
    assert_evaluated_once(agent)
