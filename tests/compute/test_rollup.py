"""The hourly rollup on synthetic telemetry with known answers: through the real ingest path
where a handful of reports suffice, and against the pure model's reference semantics on a
randomised history (gaps, duplicate times, resets, clocks ahead and late deliveries)."""
import random
from datetime import timedelta

import pytest

from compliance.compute import model
from compliance.compute.models import ComputeBucket
from compliance.compute.selectors import accounting_rules
from compliance.compute.services import compute_rollup
from inventory.models import GpuSample

from .conftest import T0, every, h800_report, history

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


def buckets(**filters):
    return {(b.start, b.chip_name): b for b in ComputeBucket.objects.filter(**filters)}


def test_real_reports_become_gpu_hours_and_energy(fleet, sg_cluster):
    """Six reports a minute apart through HTTP ingest: five one-minute intervals on eight GPUs."""
    node = fleet.node(sg_cluster, "h800-real")
    for minute in range(6):
        h800_report(node, when=T0 + timedelta(minutes=minute), energy_mj=1_000_000_000 + minute * 42_000_000)
    assert compute_rollup(start=T0, end=T0 + HOUR) == 1
    [bucket] = ComputeBucket.objects.filter(cluster=sg_cluster)
    assert (bucket.chip_name, bucket.catalog_model, bucket.gpus, bucket.samples) == ("NVIDIA H800", "h800-sxm", 8, 40)
    assert bucket.gpu_seconds == pytest.approx(8 * 5 * 60)
    assert bucket.busy_gpu_seconds == pytest.approx(0.97 * 8 * 5 * 60)
    assert bucket.energy_j == pytest.approx(8 * 5 * 42_000)  # 42 kJ a minute = 700 W
    samples = GpuSample.objects.filter(host=node.host)
    assert (bucket.first_sample_id, bucket.last_sample_id) == (min(s.id for s in samples), max(s.id for s in samples))


def test_real_reports_counter_reset_and_clock_ahead(fleet, sg_cluster):
    """A driver reload between two reports, and an agent whose clock runs two hours ahead."""
    node = fleet.node(sg_cluster, "h800-reset")
    for minute, energy in enumerate([5_000_000_000, 5_060_000_000, 30_000_000, 90_000_000]):
        h800_report(node, when=T0 + timedelta(minutes=minute), energy_mj=energy)
    ahead = fleet.node(sg_cluster, "h800-ahead")
    for minute in range(4):
        h800_report(ahead, when=T0 + timedelta(minutes=minute), skew=timedelta(hours=2))
    compute_rollup(start=T0, end=T0 + 4 * HOUR)
    [bucket] = ComputeBucket.objects.filter(cluster=sg_cluster)  # nothing lands at 02:00 where the clock says
    assert bucket.start == T0 and bucket.gpus == 16
    assert bucket.counter_resets == 8
    assert bucket.energy_j == pytest.approx(8 * (60_000 + 30_000 + 60_000))
    assert bucket.skew_corrected == 8 * 3
    assert bucket.gpu_seconds == pytest.approx(16 * 3 * 60)


def test_gap_is_not_running_and_late_delivery_keeps_its_hour(h800_node, sg_cluster, settings):
    settings.CHIPWATCH_COMPUTE_MAX_GAP_SECONDS = 300
    moments = every(T0 + HOUR, minutes=5, count=7) + every(T0 + HOUR + timedelta(minutes=50), minutes=5, count=3)
    history(h800_node, moments, received=lambda moment: moment + timedelta(hours=5))  # spooled, sent 5 h late
    compute_rollup(start=T0 + HOUR, end=T0 + 2 * HOUR)
    [bucket] = ComputeBucket.objects.filter(cluster=sg_cluster, start=T0 + HOUR)
    assert bucket.gpu_seconds == pytest.approx(8 * 8 * 300)  # 6 + 2 five-minute intervals; the 20-minute hole is out
    assert (bucket.gaps, bucket.gap_seconds) == (8, 8 * 1200)
    assert bucket.skew_corrected == 0 and bucket.training_gpus == 0  # 40 of 60 minutes covered: not training-like


def test_rerun_replaces_an_hour(h800_node, sg_cluster):
    history(h800_node, every(T0 + HOUR, minutes=1, count=31))
    compute_rollup(start=T0 + HOUR, end=T0 + 2 * HOUR)
    assert ComputeBucket.objects.get(cluster=sg_cluster, start=T0 + HOUR).training_gpus == 0
    history(h800_node, every(T0 + HOUR + timedelta(minutes=31), minutes=1, count=30),
            received=lambda moment: moment + timedelta(hours=3))  # the rest of the hour, spooled and sent late
    compute_rollup(start=T0 + HOUR, end=T0 + 2 * HOUR)
    [row] = ComputeBucket.objects.filter(cluster=sg_cluster, start=T0 + HOUR)
    assert (row.training_gpus, row.gpu_seconds) == (8, pytest.approx(8 * 3600))


def test_rollup_is_one_query_per_chunk(h800_node, settings, django_assert_num_queries):
    history(h800_node, every(T0 + HOUR, minutes=10, count=30))
    settings.CHIPWATCH_COMPUTE_ROLLUP_CHUNK_HOURS = 2
    # Once: the GPUs and their NVLinks (fabrics; none here holds a run).  Per chunk of hours (three): the
    # aggregate, then in one transaction (a savepoint and its release here) the delete and insert of the cluster
    # rows and the delete of the fabric rows (a fabric that no longer exists leaves none behind).
    with django_assert_num_queries(2 + 3 * 6):
        compute_rollup(start=T0 + HOUR, end=T0 + 7 * HOUR)


def test_sql_matches_the_reference_model(fleet, sg_cluster, settings):
    """A random history on two hosts: the set-based query and model.account agree field by field."""
    settings.CHIPWATCH_COMPUTE_MAX_GAP_SECONDS = 300
    rng = random.Random(14)
    for name in ("h800-r1", "h800-r2"):
        node = fleet.node(sg_cluster, name)
        h800_report(node, when=T0)
        moments, moment = [], T0 + timedelta(seconds=rng.randint(0, 59))
        while moment < T0 + 6 * HOUR:
            moments.append(moment)
            moment += timedelta(seconds=rng.choice([0, 30, 60, 60, 60, 90, 299, 300, 301, 900]))
        energies = {}

        def energy(gpu, i):
            if rng.random() < 0.03:
                return None
            energies[gpu.id] = 0 if rng.random() < 0.02 else energies.get(gpu.id, 0) + rng.randint(0, 60_000_000)
            return energies[gpu.id]

        def received(moment):
            return moment - timedelta(hours=2) if rng.random() < 0.1 else moment + timedelta(seconds=rng.randint(0, 900))

        history(node, moments, util=lambda gpu, i: None if rng.random() < 0.05 else rng.randint(0, 100),
                energy=energy, received=received)
    start, end = T0 + HOUR, T0 + 5 * HOUR
    compute_rollup(start=start, end=end)
    samples = [model.Sample(id=s.id, gpu_id=s.gpu_id, chip=s.gpu.name, collected_at=s.collected_at,
                            received_at=s.observation.received_at, utilization_pct=s.utilization_gpu_pct,
                            energy_mj=s.energy_mj)
               for s in GpuSample.objects.select_related("gpu", "observation").filter(collected_at__gte=start)]
    expected = model.account(samples, start=start, end=end, rules=accounting_rules())
    stored = buckets(cluster=sg_cluster)
    assert sorted(stored) == sorted(expected) and len(expected) == 4
    assert sum(u.skew_corrected for u in expected.values()) > 0 and sum(u.gaps for u in expected.values()) > 0
    assert sum(u.counter_resets for u in expected.values()) > 0
    for key, usage in expected.items():
        row = stored[key]
        for field, value in vars(usage).items():
            assert getattr(row, field) == pytest.approx(value, rel=1e-9, abs=1e-6), (key, field)


def test_received_by_leaves_out_later_reports(h800_node, sg_cluster):
    from compliance.compute.usage_sql import hourly_usage

    history(h800_node, every(T0 + HOUR, minutes=1, count=31))
    history(h800_node, every(T0 + HOUR + timedelta(minutes=31), minutes=1, count=30),
            received=lambda moment: moment + timedelta(days=2))
    rules = accounting_rules()
    now = hourly_usage(start=T0 + HOUR, end=T0 + 2 * HOUR, rules=rules, max_clock_ahead_seconds=0)
    then = hourly_usage(start=T0 + HOUR, end=T0 + 2 * HOUR, rules=rules, max_clock_ahead_seconds=0,
                        received_by=T0 + 3 * HOUR)
    assert now[0].usage.gpu_seconds == pytest.approx(8 * 60 * 60)
    assert then[0].usage.gpu_seconds == pytest.approx(8 * 30 * 60)


def test_whole_hours_required():
    from compliance.compute.usage_sql import hourly_usage

    with pytest.raises(ValueError, match="whole hours"):
        hourly_usage(start=T0 + timedelta(minutes=5), end=T0 + HOUR, rules=accounting_rules(),
                     max_clock_ahead_seconds=0)

