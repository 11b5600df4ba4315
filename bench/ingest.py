"""Ingest throughput: signed 8-GPU HGX reports POSTed to gunicorn on loopback against PostgreSQL,
next to a raw psycopg COPY of the same rows, in the same run.

    .venv/bin/python bench/ingest.py [--hosts 250] [--reports-per-host 8] [--workers 3] [--clients 16]
                                     [--batch 8] [--gthread 4] [--granian 1] [--database NAME]

Phases on the same server and database, one after the other: every report with its full
identity section (a fleet restarting); the steady state where identity is sent as its hash
(lean reports) one POST each; the same lean reports as agents draining a spool after an outage
(POST /api/v1/reports/batch, `--batch` reports a request); with `--gthread N`, the lean
single-POST phase again under gunicorn's gthread worker (N threads per worker); with
`--granian N`, under Granian's WSGI server (N threads per worker); with
`--before REF`, the lean single-POST phase served by the code of an earlier commit.  Prints
reports/s, p50/p99 request latency, the CPU each report cost PostgreSQL, the web server and the
rest (the clients) and each phase against a COPY of the rows it wrote.  Needs
PostgreSQL on 127.0.0.1:5432 (BENCH_PG_ADMIN_URL to change).
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import (CpuSplit, Granian, Gunicorn, fleet_template, host_collection,  # noqa: E402
                          percentile, scratch_database)

DB_NAME = "chipwatch_bench_ingest"
GRANIAN = "granian:"  # a phase's server arguments naming Granian and its threads per worker


def fleet_reports(agent_ids: list[str], keys: list, per_host: int, *, full: bool, first_sequence: int):
    """Per host, `per_host` signed reports from the fake hgx-h100 profile with host-unique GPU ids."""
    from chipwatch_agent import protocol
    from chipwatch_agent.report import build_report, lean

    template, identifiers = fleet_template("hgx-h100")
    fleet = []
    for host, (agent_id, key) in enumerate(zip(agent_ids, keys)):
        collection = host_collection(template, identifiers, host)
        bodies = []
        for n in range(per_host):
            report = build_report(collection, agent_id=agent_id, sequence=first_sequence + n, backend="fake")
            report = report if full else lean(report)
            bodies.append((protocol.canonical_json(report), protocol.sign(key, report)))
        fleet.append((agent_id, bodies))
    return fleet


def _post(port: int, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def _send_host(args):
    """One host's reports in order: one POST each, or `batch` per POST to the batch endpoint.
    Returns the latency of each report (a batch's latency counts for each report in it) and the
    refused reports by status."""
    port, agent_id, bodies, batch = args
    latencies, failures = [], Counter()
    for start in range(0, len(bodies), batch):
        chunk = bodies[start:start + batch]
        started = time.perf_counter()
        if batch == 1:
            (body, signature), = chunk
            status, _ = _post(port, "/api/v1/reports", body, {"X-Chipwatch-Agent": agent_id,
                                                              "X-Chipwatch-Signature": signature})
            failures.update([status] if status not in (200, 201) else [])
        else:
            entries = b",".join(b'{"report":%s,"signature":"%s"}' % (body, signature.encode()) for body, signature in chunk)
            status, data = _post(port, "/api/v1/reports/batch", b'{"reports":[%s]}' % entries,
                                 {"X-Chipwatch-Agent": agent_id})
            answers = json.loads(data)["results"] if status == 200 else []
            failures.update([f"batch {status}"] * len(chunk) if status != 200 else
                            [answer["http_status"] for answer in answers if answer["http_status"] not in (200, 201)])
        latencies.extend([time.perf_counter() - started] * len(chunk))
    return latencies, failures


def _client_process(args):
    port, hosts, threads, batch = args
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(_send_host, [(port, agent_id, bodies, batch) for agent_id, bodies in hosts]))
    return [lat for lats, _ in results for lat in lats], sum((f for _, f in results), Counter())


def post_all(base: str, fleet, clients: int, batch: int = 1) -> dict:
    """Each host's reports in order on one thread; hosts spread over 2 client processes."""
    port = int(base.rsplit(":", 1)[1])
    halves = [fleet[0::2], fleet[1::2]]
    started = time.perf_counter()
    with Pool(2) as pool:
        parts = pool.map(_client_process, [(port, half, max(1, clients // 2), batch) for half in halves])
    elapsed = time.perf_counter() - started
    latencies = sorted(lat for lats, _ in parts for lat in lats)
    return {"reports": len(latencies), "failures": dict(sum((f for _, f in parts), Counter())) or 0, "seconds": elapsed,
            "rate": len(latencies) / elapsed, "p50_ms": percentile(latencies, 0.50) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000}


def warm_up(base: str, workers: int) -> None:
    """Every worker of a new server loads the URLconf and compiles the report schema before any
    phase is measured (a refused empty report does both and stores nothing): otherwise the first
    phase after a start pays ~1 s of CPU per worker, which a phase of 2,000 reports reads as
    ~2 ms more per report."""
    port = int(base.rsplit(":", 1)[1])
    with ThreadPoolExecutor(workers * 4) as pool:
        statuses = list(pool.map(lambda _: _post(port, "/api/v1/reports", b"{}", {})[0], range(workers * 16)))
    assert set(statuses) == {400}, statuses


def copy_rate(database_url: str, observation_ids: list[int]) -> dict:
    """COPY the rows ingest wrote for these observations (observation + its GPU samples) into
    scratch tables of the same shape: the floor a bulk loader with no validation would reach."""
    import psycopg

    with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as conn:
        obs = conn.execute(
            "SELECT report_id, agent_id, host_id, sequence, collected_at, received_at, clock_skew_seconds,"
            " payload::text, payload_sha256, identity_sha256, full_identity, synthetic, signature_status, provenance"
            " FROM inventory_observation WHERE id = ANY(%s)", (observation_ids,)).fetchall()
        samples = conn.execute(
            "SELECT observation_id, gpu_id, host_id, collected_at, sm_clock_mhz, mem_clock_mhz, utilization_gpu_pct,"
            " power_draw_mw, temperature_c, energy_mj FROM inventory_gpusample WHERE observation_id = ANY(%s)",
            (observation_ids,)).fetchall()
        conn.execute("CREATE TEMP TABLE copy_obs (LIKE inventory_observation INCLUDING DEFAULTS)")
        conn.execute("CREATE TEMP TABLE copy_sample (LIKE inventory_gpusample INCLUDING DEFAULTS)")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy("COPY copy_obs (id, report_id, agent_id, host_id, sequence, collected_at, received_at,"
                          " clock_skew_seconds, payload, payload_sha256, identity_sha256, full_identity, synthetic,"
                          " signature_status, provenance) FROM STDIN") as copy:
                for n, row in enumerate(obs):
                    copy.write_row((n, *row))
            with cur.copy("COPY copy_sample (id, observation_id, gpu_id, host_id, collected_at, sm_clock_mhz,"
                          " mem_clock_mhz, utilization_gpu_pct, power_draw_mw, temperature_c, energy_mj)"
                          " FROM STDIN") as copy:
                for n, row in enumerate(samples):
                    copy.write_row((n, *row))
        conn.commit()
        elapsed = time.perf_counter() - started
    return {"reports": len(obs), "seconds": elapsed, "rate": len(obs) / elapsed}


def before_tree(ref: str) -> str:
    """The repository at `ref` in a temporary directory, for gunicorn --chdir (same database schema)."""
    import subprocess
    import tempfile

    directory = tempfile.mkdtemp(prefix="chipwatch-before-")
    archive = subprocess.run(["git", "archive", ref], cwd=Path(__file__).resolve().parent.parent,
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
    return directory


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=250)
    parser.add_argument("--reports-per-host", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3, help="web server worker processes")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads")
    parser.add_argument("--database", default=DB_NAME, help="scratch database to drop, create and fill")
    parser.add_argument("--batch", type=int, default=8, help="reports per POST /api/v1/reports/batch (0: skip)")
    parser.add_argument("--gthread", type=int, default=0, metavar="THREADS",
                        help="also run the lean phase under the gthread worker with this many threads (0: skip)")
    parser.add_argument("--granian", type=int, default=0, metavar="THREADS",
                        help="also run the lean phase under Granian's WSGI server, THREADS per worker (0: skip)")
    parser.add_argument("--before", metavar="GIT_REF",
                        help="also serve the lean phase with the code of this commit (git archive to a temp dir)")
    args = parser.parse_args()

    database_url = scratch_database(args.database)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from chipwatch_agent import protocol
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from inventory.services.enrollment import agent_enroll, enrollment_secret_create
    from inventory.models import Observation

    _, secret = enrollment_secret_create(label="bench")
    keys = [Ed25519PrivateKey.generate() for _ in range(args.hosts)]
    agent_ids = [str(agent_enroll(secret=secret, public_key=protocol.public_key_b64(k),
                                           hostname=f"hgx-{n:05d}", machine_id=f"{n:032x}").id)
                 for n, k in enumerate(keys)]
    per = args.reports_per_host
    # (name, reports, reports per request, server: gunicorn worker arguments or GRANIAN + threads); sequences
    # continue phase to phase.
    plan = [("full identity", True, 1, ""), ("lean (identity hash)", False, 1, "")]
    if args.batch > 1:
        plan.append((f"lean, batch of {args.batch}", False, args.batch, ""))
    if args.before:
        plan.insert(2, (f"lean, code of {args.before}", False, 1, f"--chdir {before_tree(args.before)}"))
    if args.gthread:
        plan.append((f"lean, gthread x{args.gthread}", False, 1, f"--worker-class gthread --threads {args.gthread}"))
    if args.granian:
        plan.append((f"lean, granian wsgi x{args.granian}", False, 1, f"{GRANIAN}{args.granian}"))
    phases = [(name, fleet_reports(agent_ids, keys, per, full=full, first_sequence=n * per), batch, worker)
              for n, (name, full, batch, worker) in enumerate(plan)]
    # No broker: evaluation would run inside the request.  Point Celery at a Redis database
    # that no worker reads, so ingest is measured alone; it is flushed afterwards.
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    results = []
    # In plan order (sequences continue phase to phase), one server per run of phases with the same arguments.
    for worker, group in itertools.groupby(phases, key=lambda phase: phase[3]):
        # Connections that outlive a phase keep each worker's PostgreSQL backend (and its CPU count) in /proc.
        env = {"REDIS_URL": redis_url, "CHIPWATCH_ACCEPT_SYNTHETIC": "1",
               "GUNICORN_CMD_ARGS": "" if worker.startswith(GRANIAN) else worker,
               "DB_CONN_MAX_AGE": "3600"}
        server = (Granian(database_url, workers=args.workers, threads=int(worker[len(GRANIAN):]), env=env)
                  if worker.startswith(GRANIAN) else Gunicorn(database_url, workers=args.workers, env=env)).start()
        try:
            base = server.url
            warm_up(base, args.workers)
            for name, fleet, batch, _ in group:
                before = set(Observation.objects.values_list("id", flat=True))
                with CpuSplit() as cpu:
                    http_result = post_all(base, fleet, args.clients, batch)
                http_result["cpu"] = cpu.per_item_ms(http_result["reports"])
                new_ids = sorted(set(Observation.objects.values_list("id", flat=True)) - before)
                copy_result = copy_rate(database_url, new_ids)
                results.append((name, http_result, copy_result))
        finally:
            server.stop()
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    stored = Observation.objects.count()
    expected = args.hosts * per * len(phases)
    body_sizes = {name: len(fleet[0][1][0][0]) for name, fleet, *_ in phases}
    print(f"hosts={args.hosts} reports/host/phase={per} server workers={args.workers} clients={args.clients} "
          f"load average before/after: {LOAD_BEFORE} / {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, h, c in results:
        print(f"[{name}] body {body_sizes[name]} B: HTTP ingest {h['reports']} reports in {h['seconds']:.2f} s = "
              f"{h['rate']:.0f} reports/s, p50 {h['p50_ms']:.1f} ms, p99 {h['p99_ms']:.1f} ms, "
              f"failures {h['failures']}; COPY of the same rows {c['rate']:.0f} reports/s\n    {h['cpu']}")
    print(f"stored exactly once: {stored} observations for {expected} reports sent")
    for name, h, c in results:
        print(f"ratio [{name}] ingest/COPY = {h['rate'] / c['rate']:.1%}")


LOAD_BEFORE = " ".join(f"{x:.2f}" for x in os.getloadavg())

if __name__ == "__main__":
    main()
