"""Evaluation after reports, per worker process: the batch path against the old per-host path.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chipwatch_b \\
        .venv/bin/python bench/evaluate.py [--hosts 2000] [--clusters 20] [--old-sample 150] [--profile]

Recreates the database named in DATABASE_URL, enrolls the hosts (8 GPUs each, UUIDs and serials of
their own) and stores their reports through the ingest service, then, in one run and one process:

(a) identities unchanged: every host sends a lean report; the marked hosts are evaluated;
(b) every host changed: every host sends a full report naming another part (H800 <-> H100 SXM).

Each scenario is timed for the batch path (``compliance.evaluation.services.hosts_evaluate`` until no
host is left) and for the old per-host path (``old_host_evaluate`` below, the evaluation as it was up to
commit f68b17b) on the first ``--old-sample`` hosts, marked the same way.  Reports are stored with
Celery off (an in-memory broker nobody consumes), so the timings are the evaluation alone.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def setup(database_url: str):
    from bench._stack import scratch_database

    name = database_url.rsplit("/", 1)[1]
    os.environ["DATABASE_URL"] = scratch_database(name)
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["CHIPWATCH_ACCEPT_SYNTHETIC"] = "1"
    import django

    django.setup()
    from config.celery import app

    app.conf.task_always_eager = False  # ingest's on-commit requests go to the in-memory broker, unconsumed


def old_host_evaluate(*, host_id: int) -> None:
    """The per-host evaluation as it was up to commit f68b17b (compliance/services.py host_evaluate):
    all the host's GPUs classified, its cluster re-scored, every detector run, for each report."""
    from django.db import transaction
    from django.utils import timezone

    from compliance.detectors import run_detectors
    from compliance.services import clusters_score, gpus_classify, hosts_classify, transfers_check
    from inventory.models import Gpu, Host

    host = Host.objects.filter(pk=host_id).only("id", "cluster_id", "needs_evaluation").first()
    if host is None or host.needs_evaluation is None:
        return
    marked_at, as_of = host.needs_evaluation, timezone.localdate()
    with transaction.atomic():
        gpus_classify(gpus=Gpu.objects.filter(host_id=host_id), as_of=as_of)
        hosts_classify(host_ids=[host_id], as_of=as_of)
        if host.cluster_id is not None:
            clusters_score(cluster_ids=[host.cluster_id], as_of=as_of)
        run_detectors(host_ids=[host_id])
        transfers_check(host_ids=[host_id])
        Host.objects.filter(pk=host_id, needs_evaluation=marked_at).update(needs_evaluation=None)


def build_fleet(hosts: int, clusters: int):
    from inventory.models import Cluster, Organization, Site
    from tests.evaluation import fleet

    parent = Organization.objects.create(name="Bench Holdings", country_of_incorporation="US",
                                         headquarters_country="US")
    operator = Organization.objects.create(name="Bench Compute SG", country_of_incorporation="SG",
                                           headquarters_country="SG", parent=parent)
    site = Site.objects.create(name="SG-bench", organization=operator, country="SG")
    out = []
    for c in range(clusters):
        cluster = Cluster.objects.create(name=f"bench-{c}", site=site, operator=operator, declared_purpose="training")
        out += fleet.enroll(cluster=cluster, count=hosts // clusters, first_number=len(out))
    return out


def send_round(hosts, *, changed: bool) -> float:
    """One report per host: lean, or full naming the other part when `changed`; returns reports/s."""
    from tests.evaluation import fleet

    started = time.perf_counter()
    for host in hosts:
        if changed:
            host_part[host.number] = fleet.H100 if host_part[host.number] == fleet.H800 else fleet.H800
        fleet.send(host, fleet.report(host, part=host_part[host.number], full=changed))
    return len(hosts) / (time.perf_counter() - started)


host_part: dict[int, tuple] = {}


def timed_batches(expected: int, profile: bool) -> tuple[float, str]:
    from compliance.evaluation.services import hosts_evaluate

    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    done = 0
    while (n := hosts_evaluate()):
        done += n
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started
    assert done == expected, (done, expected)
    text = ""
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        text = out.getvalue()
    return done / elapsed, text


def timed_old(hosts) -> float:
    started = time.perf_counter()
    for host in hosts:
        old_host_evaluate(host_id=host.host_id)
    return len(hosts) / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--old-sample", type=int, default=150, help="hosts timed on the old per-host path")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the batch path per scenario")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must name a PostgreSQL database (it is dropped and recreated)")
    setup(url)
    from django.conf import settings

    from tests.evaluation import fleet

    hosts = build_fleet(args.hosts, args.clusters)
    for host in hosts:
        host_part[host.number] = fleet.H800
    print(f"{len(hosts)} hosts x 8 GPUs in {args.clusters} clusters; batch bound "
          f"{settings.CHIPWATCH_EVALUATION_BATCH_SIZE}; old path timed on {args.old_sample} hosts")
    for host in hosts:
        fleet.send(host, fleet.report(host, part=fleet.H800))
    first, _ = timed_batches(len(hosts), False)
    print(f"setup: first evaluation of the new hosts {first:.0f} hosts/s")
    sample = hosts[:args.old_sample]
    results = []
    for label, changed in (("(a) identities unchanged (lean reports)", False),
                           ("(b) every host changed (H800 <-> H100 SXM)", True)):
        rate = send_round(hosts, changed=changed)
        batch, profile = timed_batches(len(hosts), args.profile)
        send_round(sample, changed=changed)
        old = timed_old(sample)
        results.append((label, batch, old))
        print(f"{label}: reports stored at {rate:.0f}/s; batch {batch:,.0f} hosts/s; old {old:,.1f} hosts/s")
        if profile:
            print(f"--- profile, batch path, {label}\n{profile}")
    print("\n| scenario | batch path hosts/s | old per-host path hosts/s | ratio |")
    print("|---|---|---|---|")
    for label, batch, old in results:
        print(f"| {label} | {batch:,.0f} | {old:,.1f} | {batch / old:,.0f}x |")


if __name__ == "__main__":
    main()
