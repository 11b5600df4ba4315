"""History bytes per GPU per day, measured in PostgreSQL on a realistic day of reports.

    .venv/bin/python bench/storage.py [--hosts 16] [--interval 60] [--db chipwatch_bench_storage]

Migrates a scratch database (GpuSample partitioned by month), then writes one day of history for
``--hosts`` HGX H100 hosts (8 GPUs each) at the agent's default interval (60 s): per host and
collection one Observation holding the report as the agent sends it (the first one full, the rest
lean: the identity is acknowledged; payloads built by the real collector over the fake NVML, with
clocks, utilization, power, temperature and energy varying each minute) and one GpuSample per GPU.
Rows go in with COPY (the bytes on disk are the question here, not the ingest rate).  After VACUUM
ANALYZE it reads pg_total_relation_size over every partition (heap, TOAST and indexes), each index
of GpuSample on its own, and the size of a retention export (gzip'd COPY CSV) of the same rows.
Prints bytes per row, per GPU per day and per year for 100 k / 1 M / 10 M GPUs last.
"""
from __future__ import annotations

import argparse
import copy
import gzip
import json
import os
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import scratch_database  # noqa: E402

GPUS_PER_HOST = 8
FLEETS = (100_000, 1_000_000, 10_000_000)


def fleet(hosts: int, start: datetime):
    """Organization, site, cluster, hosts with an agent and 8 GPUs each; returns [(host, agent, gpus)]."""
    from inventory.models import Agent, Cluster, Gpu, Host, Organization, Site

    org = Organization.objects.create(name="Bench Org", country_of_incorporation="US", headquarters_country="US")
    site = Site.objects.create(name="Bench Site", organization=org, country="US")
    cluster = Cluster.objects.create(name="bench", site=site, operator=org, declared_purpose="training")
    out = []
    for h in range(hosts):
        host = Host.objects.create(hostname=f"bench-{h:05d}", cluster=cluster, first_seen=start, last_seen=start)
        agent = Agent.objects.create(host=host, public_key=f"bench-{h}")
        gpus = Gpu.objects.bulk_create(Gpu(uuid=f"GPU-{uuid.uuid4()}", host=host, index=i, name="NVIDIA H100 80GB HBM3",
                                           pci_device_id=0x2330, first_seen=start, last_seen=start)
                                       for i in range(GPUS_PER_HOST))
        out.append((host, agent, gpus))
    return out


def template_report() -> dict:
    from chipwatch_agent.collector import Collector
    from chipwatch_agent.nvml_fake import FakeNvml
    from chipwatch_agent.report import build_report

    return build_report(Collector(FakeNvml.from_profile("hgx-h100")).collect(),
                        agent_id=str(uuid.UUID(int=0)), sequence=0, backend="fake")


def day_of_rows(fleet_rows, template: dict, start: datetime, interval: float, rng: random.Random):
    """(observation rows, sample rows) of one day in arrival order (every host's report of one
    minute, then the next minute's: the order ingest appends in, which decides how full the
    (gpu_id, collected_at) index pages are); ids assigned here (the tables start empty)."""
    reports, energy = [], []
    for host, agent, gpus in fleet_rows:
        report = copy.deepcopy(template)
        report["agent_id"], report["host"]["hostname"] = str(agent.id), host.hostname
        for section in ("telemetry", "identity"):
            for entry, gpu in zip(report[section]["gpus"], gpus):
                entry["uuid"] = gpu.uuid
        reports.append(report)
        energy.append([rng.randrange(10**9, 10**10) for _ in gpus])
    observations, samples = [], []
    for step in range(int(86400 // interval)):
        collected = start + timedelta(seconds=step * interval)
        for (host, agent, gpus), report, counters in zip(fleet_rows, reports, energy):
            body = report if step == 0 else {k: v for k, v in report.items() if k != "identity"}
            body = dict(body, report_id=str(uuid.uuid4()), sequence=step,
                        collected_at=collected.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
            observation_id = len(observations) + 1
            for i, (entry, gpu) in enumerate(zip(body["telemetry"]["gpus"], gpus)):
                util = rng.randrange(0, 101)
                power = 70_000 + util * 6_300 + rng.randrange(0, 5_000)
                counters[i] += int(power * interval)
                entry.update(clocks_mhz={"sm": rng.randrange(1_200, 1_981), "mem": 2_619},
                             utilization_pct={"gpu": util, "memory": rng.randrange(0, util + 1)},
                             power_draw_mw=power, energy_mj=counters[i], temperature_c=rng.randrange(30, 85),
                             compute_process_count=rng.randrange(0, 3))
                samples.append((len(samples) + 1, collected, entry["clocks_mhz"]["sm"], 2_619, util, power,
                                entry["temperature_c"], counters[i], gpu.id, host.id, observation_id))
            received = collected + timedelta(milliseconds=rng.randrange(100, 900))
            observations.append((observation_id, body["report_id"], agent.id, host.id, step, collected, received,
                                 (collected - received).total_seconds(), json.dumps(body), "0" * 64,
                                 report["identity_sha256"], step == 0, True, "valid", "reported"))
    return observations, samples


OBSERVATION_COLUMNS = ("id", "report_id", "agent_id", "host_id", "sequence", "collected_at", "received_at",
                       "clock_skew_seconds", "payload", "payload_sha256", "identity_sha256", "full_identity",
                       "synthetic", "signature_status", "provenance")
SAMPLE_COLUMNS = ("id", "collected_at", "sm_clock_mhz", "mem_clock_mhz", "utilization_gpu_pct", "power_draw_mw",
                  "temperature_c", "energy_mj", "gpu_id", "host_id", "observation_id")


def copy_in(cursor, table: str, columns: tuple[str, ...], rows) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy_:
        for row in rows:
            copy_.write_row(row)
    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


def sizes(cursor, table: str) -> dict[str, int]:
    """heap (with TOAST) and index bytes summed over the table's partitions."""
    # pg_partition_tree lists nothing for a table that is not partitioned (Observation): add the table itself.
    cursor.execute("SELECT coalesce(sum(pg_table_size(relid)), 0), coalesce(sum(pg_indexes_size(relid)), 0) FROM"
                   " (SELECT relid FROM pg_partition_tree(to_regclass(%s)) UNION SELECT to_regclass(%s)) t",
                   [table, table])
    heap, indexes = cursor.fetchone()
    return {"heap": int(heap), "indexes": int(indexes), "total": int(heap) + int(indexes)}


def index_sizes(cursor, table: str) -> dict[str, int]:
    cursor.execute("SELECT i.indexrelid::regclass::text, (SELECT coalesce(sum(pg_relation_size(relid)), 0) FROM"
                   " (SELECT relid FROM pg_partition_tree(i.indexrelid) UNION SELECT i.indexrelid) t)"
                   " FROM pg_index i WHERE i.indrelid = to_regclass(%s) ORDER BY 2 DESC", [table])
    return {name: int(size) for name, size in cursor.fetchall()}


def export_bytes(cursor, table: str) -> int:
    """Bytes of the table as a retention export writes it (inventory.services.retention)."""
    with cursor.copy(f"COPY (SELECT * FROM {table} ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)") as copy_:
        raw = b"".join(bytes(chunk) for chunk in copy_)
    return len(gzip.compress(raw, mtime=0))


def per_year(bytes_per_gpu_day: float) -> str:
    return ", ".join(f"{gpus // 1000:,} k GPUs {bytes_per_gpu_day * gpus * 365 / 1e12:,.1f} TB"
                     for gpus in FLEETS)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between reports (agent default 60)")
    parser.add_argument("--db", default="chipwatch_bench_storage", help="scratch database (dropped and re-created)")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = scratch_database(args.db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection, transaction

    from inventory import partitions

    now = datetime.now(timezone.utc)
    start = partitions.month_start(now)  # inside the current month's partition, created by migrate
    started = time.perf_counter()
    with transaction.atomic():
        rows = fleet(args.hosts, start)
    observations, samples = day_of_rows(rows, template_report(), start, args.interval, random.Random(13))
    with transaction.atomic(), connection.cursor() as cursor:
        copy_in(cursor, "inventory_observation", OBSERVATION_COLUMNS, observations)
        copy_in(cursor, "inventory_gpusample", SAMPLE_COLUMNS, samples)
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE inventory_observation")
        cursor.execute("VACUUM ANALYZE inventory_gpusample")
        cursor.execute("SELECT tableoid::regclass::text, count(*) FROM inventory_gpusample GROUP BY 1")
        placed = dict(cursor.fetchall())
        sample_size, observation_size = sizes(cursor, "inventory_gpusample"), sizes(cursor, "inventory_observation")
        sample_indexes = index_sizes(cursor, "inventory_gpusample")
        sample_export, observation_export = export_bytes(cursor, "inventory_gpusample"), export_bytes(
            cursor, "inventory_observation")
    gpus = args.hosts * GPUS_PER_HOST
    print(f"{args.hosts} hosts x {GPUS_PER_HOST} GPUs, one report every {args.interval:g} s for a day: "
          f"{len(observations):,} observations, {len(samples):,} samples in {placed} "
          f"(built in {time.perf_counter() - started:.1f} s)")
    print(f"{'table':<24}{'rows':>10}{'heap B/row':>12}{'index B/row':>12}{'total B/row':>12}"
          f"{'B/GPU/day':>12}{'export B/GPU/day':>18}")
    per_gpu_day = {}
    for table, count, size, export in (("inventory_gpusample", len(samples), sample_size, sample_export),
                                       ("inventory_observation", len(observations), observation_size,
                                        observation_export)):
        per_gpu_day[table] = size["total"] / gpus
        print(f"{table:<24}{count:>10,}{size['heap'] / count:>12.1f}{size['indexes'] / count:>12.1f}"
              f"{size['total'] / count:>12.1f}{size['total'] / gpus:>12,.0f}{export / gpus:>18,.0f}")
    print("GpuSample indexes (bytes per row): " + ", ".join(f"{name} {size / len(samples):.1f}"
                                                          for name, size in sample_indexes.items()))
    both = sum(per_gpu_day.values())
    print(f"per year: GpuSample {per_year(per_gpu_day['inventory_gpusample'])}")
    print(f"per year: Observation {per_year(per_gpu_day['inventory_observation'])}")
    print(f"per year: both {per_year(both)} ({both:,.0f} B/GPU/day)")


if __name__ == "__main__":
    main()
