"""Compute-accounting rollup at scale, in PostgreSQL: hourly GPU samples for a fleet.

    .venv/bin/python bench/compute_rollup.py [--gpus 8192] [--days 30] [--clusters 16] [--naive-sample 16]

Builds the fleet with COPY (hosts of 8 H800s, one agent each) and the history inside
PostgreSQL (tests/compute/bulk.py: one Observation per host and hour, one GpuSample per GPU,
shaped as ingest writes them).  Times, in one run: the production rollup
(`compliance.compute.services.compute_rollup`: one aggregate query per chunk of hours,
default chunk and one chunk for the whole range); a naive per-GPU ORM loop (read each GPU's
samples, account them in Python with the same model, write buckets one by one) on a sample of
GPUs, scaled up; and one plain aggregate pass over the same samples (the floor).  Prints the
ratios and the extrapolation to a year of 1 M GPUs last.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import scratch_database  # noqa: E402
from bench.rescore import copy_rows  # noqa: E402

DB_NAME = "chipwatch_bench_compute"
START = datetime(2026, 6, 1, tzinfo=timezone.utc)
MARKER = "bench/compute_rollup.py"


def build_fleet(database_url: str, gpus: int, clusters: int, days: int) -> None:
    import psycopg

    from inventory.models import Agent, Cluster, Gpu, GpuSample, Host, Observation, Organization, Site
    from tests.compute.bulk import hourly_history

    hosts = gpus // 8
    now = START
    with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as conn:
        copy_rows(conn, Organization, [(1, "Bench Org", "SG", "SG", "operator", "declared", now, now)],
                  ("id", "name", "country_of_incorporation", "headquarters_country", "kind", "provenance",
                   "created_at", "updated_at"))
        copy_rows(conn, Site, [(1, "Bench Site", 1, "SG", "declared")],
                  ("id", "name", "organization_id", "country", "provenance"))
        copy_rows(conn, Cluster, ((c, f"cluster-{c}", 1, 1, "training", "declared") for c in range(1, clusters + 1)),
                  ("id", "name", "site_id", "operator_id", "declared_purpose", "provenance"))
        copy_rows(conn, Host, ((h, f"host-{h}", (h - 1) % clusters + 1, True, now, now, "reported")
                               for h in range(1, hosts + 1)),
                  ("id", "hostname", "cluster_id", "nvml_ok", "first_seen", "last_seen", "provenance"))
        copy_rows(conn, Gpu, ((g + 1, f"GPU-{g:036d}", g // 8 + 1, g % 8, "NVIDIA H800", 0x2324, now, now, "reported")
                              for g in range(gpus)),
                  ("id", "uuid", "host_id", "index", "name", "pci_device_id", "first_seen", "last_seen",
                   "provenance"))
        for table in ("inventory_organization", "inventory_site", "inventory_cluster", "inventory_host",
                      "inventory_gpu"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    Agent.objects.bulk_create((Agent(host_id=h, public_key=f"bench-{h}") for h in range(1, hosts + 1)),
                              batch_size=5000)
    agent = Agent.objects.get(host_id=1)
    template = Observation.objects.create(
        report_id="00000000-0000-4000-8000-000000000000", agent=agent, host_id=1, sequence=0,
        collected_at=START - timedelta(days=1), received_at=START - timedelta(days=1), clock_skew_seconds=0,
        payload={"generated": "template"}, payload_sha256="", identity_sha256="", full_identity=False,
        synthetic=True, signature_status=Observation.Signature.MISSING)
    sample = GpuSample.objects.create(observation=template, gpu_id=1, host_id=1, collected_at=template.collected_at)
    hourly_history(hosts=[(a.host_id, str(a.id), 0) for a in Agent.objects.all()], start=START, hours=days * 24,
                   template_observation_id=template.id, template_sample_id=sample.id, marker=MARKER,
                   utilization_sql="(g.id * 37 + o.sequence) %% 101")
    with psycopg.connect(database_url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def naive_rollup(gpu_ids, start: datetime, end: datetime) -> None:
    """What a straightforward ORM loop would do: each GPU's samples into Python, buckets one by one."""
    from compliance.compute import model
    from compliance.compute.models import ComputeBucket
    from compliance.compute.selectors import accounting_rules
    from inventory.models import GpuSample

    rules = accounting_rules()
    for gpu_id in gpu_ids:
        rows = (GpuSample.objects.filter(gpu_id=gpu_id, collected_at__gte=start, collected_at__lt=end)
                .select_related("observation", "gpu", "host").order_by("collected_at", "id"))
        samples = [model.Sample(id=s.id, gpu_id=s.gpu_id, chip=s.gpu.name, collected_at=s.collected_at,
                                received_at=s.observation.received_at, utilization_pct=s.utilization_gpu_pct,
                                energy_mj=s.energy_mj) for s in rows]
        cluster_id = rows[0].host.cluster_id
        for (bucket_start, chip), usage in model.account(samples, start=start, end=end, rules=rules).items():
            bucket, _ = ComputeBucket.objects.get_or_create(
                cluster_id=cluster_id, start=bucket_start, chip_name=chip, pci_device_id=None,
                defaults=dict(catalog_model="h800-sxm", computed_at=start, **vars(usage)))
            for name, value in vars(usage).items():
                if name not in ("first_sample_id", "last_sample_id"):
                    setattr(bucket, name, getattr(bucket, name) + value)
            bucket.save()


def explain(start: datetime, end: datetime) -> None:
    """The plan and per-node timings of the rollup's aggregate for [start, end)."""
    from django.db import connection

    from compliance.compute.selectors import accounting_rules
    from compliance.compute.usage_sql import usage_query

    sql, params = usage_query(start=start, end=end, rules=accounting_rules(), max_clock_ahead_seconds=3600)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        print("\n".join(row[0] for row in cursor.fetchall()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gpus", type=int, default=8192)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--clusters", type=int, default=16)
    parser.add_argument("--naive-sample", type=int, default=16, help="GPUs the naive loop rolls up")
    parser.add_argument("--database", default=DB_NAME, help="scratch database (dropped and re-created)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of one day's aggregate")
    args = parser.parse_args()
    database_url = scratch_database(args.database)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from compliance.compute.models import ComputeBucket
    from compliance.compute.services import compute_rollup

    settings.CHIPWATCH_COMPUTE_MAX_GAP_SECONDS = 2 * 3600  # hourly samples
    started = time.perf_counter()
    build_fleet(database_url, args.gpus, args.clusters, args.days)
    end = START + timedelta(days=args.days)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM inventory_gpusample WHERE collected_at >= %s", [START])
        samples = cursor.fetchone()[0]
    print(f"built {args.gpus} GPUs / {args.gpus // 8} hosts / {args.clusters} clusters, {samples:,} hourly samples "
          f"({args.days} days) in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), sum(utilization_gpu_pct), sum(energy_mj) FROM inventory_gpusample"
                       " WHERE collected_at >= %s AND collected_at < %s", [START, end])
        cursor.fetchall()
    floor = time.perf_counter() - started

    if args.explain:
        explain(START, START + timedelta(days=1))
    timings = {}
    for label, chunk in (("default chunk", settings.CHIPWATCH_COMPUTE_ROLLUP_CHUNK_HOURS), ("one chunk", args.days * 24)):
        settings.CHIPWATCH_COMPUTE_ROLLUP_CHUNK_HOURS = chunk
        started = time.perf_counter()
        rows = compute_rollup(start=START, end=end)
        timings[label] = (chunk, time.perf_counter() - started, rows)
    gpu_hours = sum(ComputeBucket.objects.values_list("gpu_seconds", flat=True)) / 3600

    ComputeBucket.objects.all().delete()
    sample = list(range(1, args.naive_sample + 1))
    started = time.perf_counter()
    naive_rollup(sample, START, end)
    naive = time.perf_counter() - started
    naive_scaled = naive * args.gpus / len(sample)

    print(f"plain aggregate pass (floor): {floor:.2f} s ({samples / floor:,.0f} samples/s)")
    for label, (chunk, seconds, rows) in timings.items():
        print(f"production rollup, {label} ({chunk} h): {seconds:.2f} s, {rows} bucket rows, "
              f"{samples / seconds:,.0f} samples/s")
    print(f"GPU-hours rolled up: {gpu_hours:,.0f} (expected {args.gpus * args.days * 24:,})")
    print(f"naive per-GPU ORM loop: {naive:.2f} s for {len(sample)} GPUs -> {naive_scaled:,.0f} s scaled to "
          f"{args.gpus} GPUs")
    best = min(seconds for _, seconds, _ in timings.values())
    print(f"ratio naive/production = {naive_scaled / best:.0f}x; production/floor = {best / floor:.1f}x")
    year = 1_000_000 * 8760
    print(f"extrapolated, a year of hourly samples for 1 M GPUs ({year:,} samples) at this rate on this machine: "
          f"{year / (samples / best) / 60:,.0f} min")


if __name__ == "__main__":
    main()
