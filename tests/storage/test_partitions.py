"""GpuSample's monthly partitions and the retention command, on real PostgreSQL (and what SQLite does).

The partitions a test creates or detaches are DDL inside the test's transaction: rolled back with it.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from chipwatch_agent import protocol
from chipwatch_agent.collector import Collector
from chipwatch_agent.nvml_fake import FakeNvml
from chipwatch_agent.report import build_report
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection

from compliance.audit.models import AuditEvent
from compliance.findings import FindingSpec, finding_raise, finding_triage
from compliance.models import Finding
from compliance.services import cluster_audit_report
from inventory import partitions
from inventory.models import ArchivedPartition, GpuSample, Observation
from inventory.tasks import partitions_create_ahead
from tests.reports import signed_post

pytestmark = pytest.mark.django_db

OLD_MONTH = datetime(2020, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def postgres(postgres_url):
    return connection


@pytest.fixture
def sqlite(db):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite behaviour (run without DATABASE_URL)")
    return connection


@pytest.fixture
def reported(client, enrolled_agent, django_capture_on_commit_callbacks):
    """One real signed report (8 H800s) through ingest: an observation, its GPUs and samples of today."""
    agent, key = enrolled_agent
    report = build_report(Collector(FakeNvml.from_profile("hgx-h800")).collect(), agent_id=str(agent.id),
                          sequence=0, backend="fake")
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_post(client, report, key).status_code == 201
    return Observation.objects.get(host=agent.host)


def old_samples(observation: Observation, *, month: datetime, per_gpu: int) -> list[GpuSample]:
    """Samples of the observation's GPUs back-dated into ``month``, one a minute, as ingest shapes them."""
    samples = [GpuSample(observation=observation, gpu=sample.gpu, host=observation.host,
                         collected_at=month + timedelta(minutes=minute), sm_clock_mhz=1980, mem_clock_mhz=2619,
                         utilization_gpu_pct=97, power_draw_mw=650_000, temperature_c=61, energy_mj=minute * 39_000)
               for sample in observation.samples.all() for minute in range(per_gpu)]
    return GpuSample.objects.bulk_create(samples)


def located(sample_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM inventory_gpusample WHERE id = %s", [sample_id])
        return cursor.fetchone()[0]


def attached_names() -> list[str]:
    with connection.cursor() as cursor:
        return [p.name for p in partitions.attached(cursor)]


def table_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def audit_hash(cluster, as_of: date) -> str:
    return protocol.sha256_hex(protocol.canonical_json(cluster_audit_report(cluster=cluster, as_of=as_of)))


@pytest.fixture
def old_month(postgres, reported):
    """A partition for January 2020 holding 8 GPUs × 30 samples."""
    with connection.cursor() as cursor:
        assert partitions.month_create(cursor, OLD_MONTH)
    samples = old_samples(reported, month=OLD_MONTH, per_gpu=30)
    with connection.cursor() as cursor:
        # Check the deferred foreign keys now, as a commit would: history is months old when archived.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert {located(s.id) for s in samples[:3]} == {partitions.month_name(OLD_MONTH)}
    return samples


# --- layout ---------------------------------------------------------------------------


def test_migrate_leaves_current_and_three_months_ahead_a_default_and_a_brin_index(postgres):
    now = datetime.now(timezone.utc)
    expected = [partitions.month_name(partitions.add_months(partitions.month_start(now), n)) for n in range(4)]
    names = attached_names()
    assert set(expected) <= set(names) and names[-1] == partitions.DEFAULT
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [partitions.BRIN_INDEX])
        assert "USING brin (collected_at)" in cursor.fetchone()[0]
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'inventory_gpusample_pkey'")
        assert cursor.fetchone()[0] == "PRIMARY KEY (id, collected_at)"
        # The index reached every partition, the default included.
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s AND indexdef LIKE '%%USING brin%%'",
                       [partitions.DEFAULT])
        assert cursor.fetchone()[0] == 1


def test_samples_land_in_their_month_and_far_dates_in_default(postgres, reported):
    today = reported.samples.first()
    assert located(today.id) == partitions.month_name(partitions.month_start(today.collected_at))
    far_past = old_samples(reported, month=datetime(1990, 3, 1, tzinfo=timezone.utc), per_gpu=1)
    far_future = old_samples(reported, month=datetime(2099, 1, 1, tzinfo=timezone.utc), per_gpu=1)
    assert {located(s.id) for s in far_past + far_future} == {partitions.DEFAULT}


def test_the_beat_task_creates_ahead_idempotently(postgres):
    furthest = partitions.add_months(partitions.month_start(datetime.now(timezone.utc)), partitions.MONTHS_AHEAD)
    with connection.cursor() as cursor:
        partitions.detach(cursor, partitions.month_name(furthest), drop=True)
    assert partitions_create_ahead.delay().get() == [partitions.month_name(furthest)]
    assert partitions_create_ahead.delay().get() == []
    assert partitions.month_name(furthest) in attached_names()


def test_a_new_month_takes_over_the_rows_default_held_for_it(postgres, reported):
    later = datetime.now(timezone.utc) + timedelta(days=200)
    target = partitions.add_months(partitions.month_start(later), partitions.MONTHS_AHEAD)
    early = old_samples(reported, month=target, per_gpu=2)  # a clock ahead: in DEFAULT until its month exists
    assert {located(s.id) for s in early} == {partitions.DEFAULT}

    created = partitions.create_ahead(now=later)

    assert partitions.month_name(target) in created
    assert {located(s.id) for s in early} == {partitions.month_name(target)}
    assert GpuSample.objects.filter(pk__in=[s.id for s in early]).count() == len(early)
    assert partitions.create_ahead(now=later) == []


def test_append_only_guard_holds_on_a_month_partition_and_on_default(postgres, old_month, reported):
    in_default = old_samples(reported, month=datetime(2099, 1, 1, tzinfo=timezone.utc), per_gpu=1)[0]
    for stored in (GpuSample.objects.get(pk=old_month[0].id), GpuSample.objects.get(pk=in_default.id)):
        stored.utilization_gpu_pct = 0
        with pytest.raises(ValidationError, match="append-only"):
            stored.save()
        with pytest.raises(ValidationError, match="append-only"):
            stored.delete()
    assert GpuSample.objects.get(pk=old_month[0].id).utilization_gpu_pct == 97


# --- retention ------------------------------------------------------------------------


def test_retention_exports_records_and_detaches_keeping_retained_audits(postgres, old_month, reported, tmp_path):
    cluster, today = reported.host.cluster, reported.received_at.date()
    before = audit_hash(cluster, today)
    rows_before = GpuSample.objects.count()
    name = partitions.month_name(OLD_MONTH)

    out = io.StringIO()
    call_command("retention", older_than_months=6, out=tmp_path, stdout=out)

    archive = ArchivedPartition.objects.get(partition=name)
    path = tmp_path / f"{name}.csv.gz"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == archive.sha256
    assert archive.sha256 in out.getvalue()
    assert (archive.rows, archive.range_start, archive.range_end) == (len(old_month), OLD_MONTH,
                                                                       partitions.add_months(OLD_MONTH, 1))
    event = AuditEvent.objects.get(model="inventory.archivedpartition", object_id=str(archive.pk))
    assert (event.action, event.after["sha256"], event.after["rows"]) == ("create", archive.sha256, len(old_month))
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(path.read_bytes()).decode())))
    assert sorted(int(r["id"]) for r in rows) == sorted(s.id for s in old_month)
    assert name not in attached_names() and table_exists(name) and not archive.dropped
    assert GpuSample.objects.count() == rows_before - len(old_month)
    assert audit_hash(cluster, today) == before
    call_command("verify_audit_log", stdout=io.StringIO())


def test_an_exported_partition_restores_from_its_file(postgres, old_month, tmp_path):
    call_command("retention", older_than_months=6, out=tmp_path, drop=True, stdout=io.StringIO())
    name = partitions.month_name(OLD_MONTH)
    assert not table_exists(name) and not GpuSample.objects.filter(pk=old_month[0].id).exists()
    archive = ArchivedPartition.objects.get(partition=name)
    data = (tmp_path / archive.file_name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == archive.sha256  # checked before restoring (docs/storage.md)
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE TABLE "{name}" (LIKE inventory_gpusample INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
        with cursor.copy(f'COPY "{name}" FROM STDIN WITH (FORMAT csv, HEADER)') as copy:
            copy.write(gzip.decompress(data))
        cursor.execute(f"ALTER TABLE inventory_gpusample ATTACH PARTITION \"{name}\" FOR VALUES FROM (%s) TO (%s)",
                       [archive.range_start, archive.range_end])
    restored = GpuSample.objects.filter(collected_at__gte=archive.range_start, collected_at__lt=archive.range_end)
    assert sorted(restored.values_list("id", flat=True)) == sorted(s.id for s in old_month)


def test_dry_run_changes_nothing(postgres, old_month, tmp_path):
    events = AuditEvent.objects.count()
    out = io.StringIO()
    call_command("retention", older_than_months=6, out=tmp_path, dry_run=True, stdout=out)
    name = partitions.month_name(OLD_MONTH)
    assert "would archive" in out.getvalue() and name in out.getvalue()
    assert name in attached_names() and list(tmp_path.iterdir()) == []
    assert not ArchivedPartition.objects.exists() and AuditEvent.objects.count() == events
    assert GpuSample.objects.filter(pk__in=[s.id for s in old_month]).count() == len(old_month)


def test_refuses_to_archive_what_a_lookback_window_still_reads(postgres, old_month, tmp_path):
    with pytest.raises(CommandError, match="CHIPWATCH_TRAINING_LOOKBACK_DAYS reads back"):
        call_command("retention", older_than_months=2, out=tmp_path, stdout=io.StringIO())
    assert partitions.month_name(OLD_MONTH) in attached_names() and list(tmp_path.iterdir()) == []


def test_refuses_a_month_an_open_finding_cites(postgres, old_month, reported, tmp_path):
    cluster = reported.host.cluster
    finding = finding_raise(spec=FindingSpec(
        kind="training_run", severity=Finding.Severity.LOW, subject_type=Finding.Subject.CLUSTER,
        subject_id=cluster.id, dedup_key=f"training_run:cluster{cluster.id}:test", title="run", citation="test",
        observation_ids=(reported.id,), figures={"sample_ids": [old_month[0].id, old_month[-1].id]},
        cluster_id=cluster.id, organization_id=cluster.operator_id))
    with pytest.raises(CommandError, match=rf"{partitions.month_name(OLD_MONTH)} holds samples cited by open "
                                           rf"finding\(s\) {finding.id}"):
        call_command("retention", older_than_months=6, out=tmp_path, stdout=io.StringIO())
    assert partitions.month_name(OLD_MONTH) in attached_names() and not ArchivedPartition.objects.exists()

    finding_triage(finding=finding, actor=None, to_status=Finding.Status.RESOLVED, note="run reviewed")
    call_command("retention", older_than_months=6, out=tmp_path, stdout=io.StringIO())
    assert ArchivedPartition.objects.filter(partition=partitions.month_name(OLD_MONTH)).exists()


def test_an_earlier_export_is_never_overwritten(postgres, old_month, tmp_path):
    (tmp_path / f"{partitions.month_name(OLD_MONTH)}.csv.gz").write_bytes(b"earlier")
    with pytest.raises(CommandError, match="exists: an earlier export is never overwritten"):
        call_command("retention", older_than_months=6, out=tmp_path, stdout=io.StringIO())
    assert partitions.month_name(OLD_MONTH) in attached_names()
    assert (tmp_path / f"{partitions.month_name(OLD_MONTH)}.csv.gz").read_bytes() == b"earlier"


# --- SQLite ---------------------------------------------------------------------------


def test_sqlite_keeps_one_table_and_the_beat_task_does_nothing(sqlite, reported):
    assert reported.samples.count() == 8 and not ArchivedPartition.objects.exists()
    assert partitions_create_ahead.delay().get() == []


def test_sqlite_retention_explains_it_does_nothing(sqlite, reported, tmp_path):
    out = io.StringIO()
    call_command("retention", older_than_months=1, out=tmp_path, stdout=out)
    assert "nothing was done" in out.getvalue()
    assert list(tmp_path.iterdir()) == [] and reported.samples.count() == 8
