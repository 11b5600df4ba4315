"""Sustained load: thousands of simulated agents against the production stack on loopback.

    .venv/bin/python bench/load.py [--agents 2000] [--duration 150] [--interval 60] [--workers 3]

Starts PostgreSQL's scratch database (the local server, BENCH_PG_ADMIN_URL), a private
redis-server, gunicorn with config.production, a Celery worker and beat.  Each simulated agent
reports every --interval seconds (first report at a random offset) an 8-GPU HGX H100 report
built by the agent's own report builder: full the first time, then lean (identity hash), and in
full again on a 428, as the real agent does; a 5xx or a connection error is retried with backoff.
After --duration seconds no new reports are made; in-flight ones finish.  Prints reports/s,
p50/p99 latency, errors by kind, the Celery queue depth over time (redis LLEN), and a
reconciliation: every acknowledged report stored exactly once, and every host evaluated
(needs_evaluation cleared, a ClusterScore for its cluster).
"""
from __future__ import annotations

import argparse
import heapq
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import ROOT, fleet_template, host_collection, percentile, scratch_database  # noqa: E402
from tests.faults.conftest import ThrowawayRedis  # noqa: E402
from tests.integration.servers import Gunicorn  # noqa: E402

DB_NAME = "chipwatch_bench_load"
CLUSTERS = 50
GRACE_S = 60  # after --duration: in-flight reports may still finish (retries included)


# --- the simulated fleet (client processes) ---------------------------------------------------

def _client_process(args) -> dict:
    """One client process drives its share of agents with a thread pool; returns what it saw."""
    import requests
    from chipwatch_agent import protocol
    from chipwatch_agent.report import build_report, lean
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    url, agents, interval, stop_at, threads, seed = args
    rng = random.Random(seed)
    template, identifiers = fleet_template("hgx-h100")
    fleet = [{"id": agent_id, "key": load_pem_private_key(pem, None), "host": host, "sequence": 0, "lean": False,
              "collection": host_collection(template, identifiers, host)} for agent_id, pem, host in agents]
    lock = threading.Lock()
    latencies, outcomes, acknowledged, made = [], Counter(), [], [0]
    local = threading.local()

    def post(agent, report) -> int:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        try:
            response = session.post(url + "/api/v1/reports", data=protocol.canonical_json(report), timeout=30,
                                    headers={"Content-Type": "application/json", protocol.AGENT_ID_HEADER: agent["id"],
                                             protocol.SIGNATURE_HEADER: protocol.sign(agent["key"], report)})
            status = response.status_code
            ok = status in (200, 201) and response.json().get("status") in ("stored", "duplicate")
        except (requests.RequestException, ValueError) as exc:
            status, ok = type(exc).__name__, False
        with lock:
            latencies.append(time.perf_counter() - started)
            outcomes[status if not ok else "acknowledged"] += 1
        return 200 if ok else (status if isinstance(status, int) else 0)

    def one_report(agent) -> None:
        """Build, send and resend one report until acknowledged or the grace period ends."""
        agent["sequence"] += 1
        report = build_report(agent["collection"], agent_id=agent["id"], sequence=agent["sequence"], backend="fake")
        with lock:
            made[0] += 1
        delay = 0.5
        while time.time() < stop_at + GRACE_S:
            status = post(agent, lean(report) if agent["lean"] else report)
            if status == 428:  # the server does not know the identity: the same report in full, at once
                agent["lean"] = False
                continue
            if status == 200:
                agent["lean"] = True
                with lock:
                    acknowledged.append(report["report_id"])
                return
            if status in (400, 401, 403, 409, 413):
                return  # refused for good (none expected): counted in outcomes
            time.sleep(rng.uniform(0, delay))
            delay = min(delay * 2, 8)

    due = [(time.time() + rng.uniform(0, interval), n) for n in range(len(fleet))]
    heapq.heapify(due)
    wake = threading.Condition()

    def run_and_reschedule(n: int) -> None:
        one_report(fleet[n])
        with wake:
            heapq.heappush(due, (time.time() + interval, n))
            wake.notify()

    with ThreadPoolExecutor(threads) as pool:
        while time.time() < stop_at:
            with wake:
                while not due or due[0][0] > time.time():
                    wake.wait(timeout=min(0.2, max(0.0, due[0][0] - time.time())) if due else 0.2)
                    if time.time() >= stop_at:
                        break
                if time.time() >= stop_at:
                    break
                _, n = heapq.heappop(due)
            pool.submit(run_and_reschedule, n)
    return {"latencies": latencies, "outcomes": outcomes, "acknowledged": acknowledged, "made": made[0]}


# --- the stack ----------------------------------------------------------------------------------

def production_env(redis_url: str) -> dict:
    """config.production without the TLS redirect (plain HTTP on loopback), fake NVML accepted."""
    return {"DJANGO_SETTINGS_MODULE": "config.production", "SECRET_KEY": secrets.token_urlsafe(48),
            "SECURE_SSL_REDIRECT": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost", "CHIPWATCH_ACCEPT_SYNTHETIC": "1",
            "REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url}


def celery(kind: str, database_url: str, env: dict, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", kind, "--loglevel", "WARNING", *extra],
                            cwd=ROOT, env=dict(os.environ, DATABASE_URL=database_url, LOG_LEVEL="WARNING", **env),
                            stdout=subprocess.DEVNULL)


def enroll_fleet(count: int) -> list[tuple[str, bytes, int]]:
    """Organizations, sites and CLUSTERS clusters; `count` agents enrolled through the service."""
    from chipwatch_agent import protocol
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from inventory.services.enrollment import agent_enroll, enrollment_secret_create
    from inventory.models import Cluster, Organization, Site

    operator = Organization.objects.create(name="Bench Cloud", country_of_incorporation="SG",
                                           headquarters_country="SG", kind="cloud_provider")
    site = Site.objects.create(name="BENCH-1", organization=operator, country="SG", city="Singapore")
    secrets_by_cluster = [enrollment_secret_create(
        label=f"bench-{n}", cluster=Cluster.objects.create(name=f"bench-{n:02d}", site=site, operator=operator,
                                                           declared_purpose="training"))[1]
        for n in range(CLUSTERS)]
    fleet = []
    for n in range(count):
        key = Ed25519PrivateKey.generate()
        agent = agent_enroll(secret=secrets_by_cluster[n % CLUSTERS], public_key=protocol.public_key_b64(key),
                                      hostname=f"hgx-{n:05d}", machine_id=f"{n:032x}")
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fleet.append((str(agent.id), pem, n))
    return fleet


def sample_queue(redis_url: str, stop: threading.Event, samples: list, started: float) -> None:
    """Every 5 s: (seconds, LLEN of the Celery queue, hosts still marked needs_evaluation).  Queued tasks
    for one host coalesce (the first clears the mark, the rest return at once): the marked hosts are the
    real backlog."""
    import redis
    from django.db import connection

    client = redis.Redis.from_url(redis_url)
    while not stop.is_set():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM inventory_host WHERE needs_evaluation IS NOT NULL")
            pending = cursor.fetchone()[0]
        samples.append((time.time() - started, client.llen("celery"), pending))
        stop.wait(5)
    connection.close()


def reconcile(acknowledged: list[str], agent_ids: list[str]) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT report_id::text FROM inventory_observation")
        stored = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT count(*) FROM inventory_host h WHERE h.last_observation_id IS NOT NULL AND ("
                       " h.needs_evaluation IS NOT NULL OR NOT EXISTS (SELECT 1 FROM compliance_clusterscore s"
                       " WHERE s.cluster_id = h.cluster_id))")
        unevaluated = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM inventory_host WHERE last_observation_id IS NOT NULL")
        reporting_hosts = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM inventory_gpu g LEFT JOIN compliance_gpuclassification c"
                       " ON c.gpu_id = g.id WHERE c.id IS NULL")
        unclassified = cursor.fetchone()[0]
    stored_set, acked_set = set(stored), set(acknowledged)
    return {"stored": len(stored), "stored_twice": len(stored) - len(stored_set),
            "acknowledged": len(acknowledged), "acknowledged_twice": len(acknowledged) - len(acked_set),
            "acknowledged_missing": len(acked_set - stored_set),
            "stored_unacknowledged": len(stored_set - acked_set), "reporting_hosts": reporting_hosts,
            "agents": len(agent_ids), "hosts_not_evaluated": unevaluated, "gpus_unclassified": unclassified}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=150, help="seconds of load (new reports)")
    parser.add_argument("--interval", type=float, default=60, help="seconds between one agent's reports")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--client-threads", type=int, default=24, help="per client process")
    parser.add_argument("--settle", type=float, default=900, help="max seconds to wait for evaluations after load")
    args = parser.parse_args()

    database_url = scratch_database(DB_NAME)
    os.environ.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="config.settings")
    import django

    django.setup()
    redis_server = ThrowawayRedis()
    env = production_env(redis_server.url)
    processes = []
    server = Gunicorn(database_url, workers=args.workers, env=env)
    try:
        redis_server.start()
        t0 = time.perf_counter()
        fleet = enroll_fleet(args.agents)
        print(f"enrolled {len(fleet)} agents in {CLUSTERS} clusters in {time.perf_counter() - t0:.1f} s", flush=True)
        server.start()
        processes += [celery("worker", database_url, env, "-c", str(args.celery_concurrency)),
                      celery("beat", database_url, env)]
        samples, sampling = [], threading.Event()
        started = time.time()
        stop_at = started + args.duration
        sampler = threading.Thread(target=sample_queue, args=(redis_server.url, sampling, samples, started),
                                   daemon=True)
        sampler.start()
        shares = [fleet[n::args.client_processes] for n in range(args.client_processes)]
        with Pool(args.client_processes) as pool:
            parts = pool.map(_client_process, [(server.url, share, args.interval, stop_at, args.client_threads, n)
                                               for n, share in enumerate(shares)])
        load_seconds = time.time() - started
        from inventory.models import Host

        settle_started = time.time()
        while time.time() - settle_started < args.settle:
            if not Host.objects.filter(needs_evaluation__isnull=False).exists() and samples and samples[-1][1] == 0:
                break
            time.sleep(2)
        settle_seconds = time.time() - settle_started
        sampling.set()
        sampler.join(10)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        server.stop()
        redis_server.kill()

    latencies = sorted(lat for part in parts for lat in part["latencies"])
    outcomes = sum((part["outcomes"] for part in parts), Counter())
    acknowledged = [report_id for part in parts for report_id in part["acknowledged"]]
    made = sum(part["made"] for part in parts)
    attempts = sum(outcomes.values())
    result = reconcile(acknowledged, [agent_id for agent_id, _, _ in fleet])
    print(f"agents={args.agents} interval={args.interval:.0f}s duration={args.duration:.0f}s gunicorn workers="
          f"{args.workers} celery concurrency={args.celery_concurrency} clients={args.client_processes}x"
          f"{args.client_threads} threads; cores={os.cpu_count()}")
    print(f"reports made {made}, acknowledged {len(acknowledged)} in {load_seconds:.1f} s = "
          f"{len(acknowledged) / load_seconds:.1f} reports/s (offered {args.agents / args.interval:.1f}/s)")
    print(f"HTTP attempts {attempts}: latency p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
          f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, max {latencies[-1] * 1000:.0f} ms")
    errors = {k: v for k, v in outcomes.items() if k != "acknowledged"}
    print("outcomes: " + ", ".join(f"{k} {v} ({v / attempts:.2%})" for k, v in outcomes.most_common())
          + ("" if errors else "  (no errors)"))
    print("every 5 s, seconds:LLEN celery/hosts awaiting evaluation: "
          + " ".join(f"{t:.0f}s:{n}/{p}" for t, n, p in samples))
    after = [(t, p) for t, _, p in samples if t >= load_seconds]
    if len(after) >= 2 and after[0][1] > after[-1][1]:
        print(f"evaluation drain after the load: {(after[0][1] - after[-1][1]) / (after[-1][0] - after[0][0]):.2f} "
              f"hosts/s ({after[0][1]} -> {after[-1][1]} in {after[-1][0] - after[0][0]:.0f} s)")
    print(f"settle phase: {settle_seconds:.0f} s after the load ended (limit --settle {args.settle:.0f})")
    print("reconciliation: " + ", ".join(f"{k}={v}" for k, v in result.items()))
    ok = (result["stored_twice"] == 0 and result["acknowledged_missing"] == 0 and result["hosts_not_evaluated"] == 0
          and result["acknowledged_twice"] == 0)
    print("RECONCILED: every acknowledged report stored exactly once, every reporting host evaluated" if ok
          else "NOT RECONCILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
