"""Sustained load: thousands of simulated agents against the production stack on this machine.

    .venv/bin/python bench/load.py --preset short      # 2,000 agents for 90 s: a couple of minutes in all
    .venv/bin/python bench/load.py --preset full       # --agents 20000 --interval 60 --duration 600
    .venv/bin/python bench/load.py [--agents N] [--duration S] [--interval S] [--workers W] [--nodes 2]

Starts PostgreSQL's scratch database (the local server, BENCH_PG_ADMIN_URL), a private
redis-server, gunicorn with config.production, a Celery worker and beat.  Each simulated agent
reports every --interval seconds (first report at a random offset) an 8-GPU HGX H100 report
built by the agent's own report builder: full the first time, then lean (identity hash), and in
full again on a 428, as the real agent does; a 5xx or a connection error is retried with backoff.
After --duration seconds no new reports are made; in-flight ones finish.  Prints reports/s,
p50/p99 latency, errors by kind, the evaluation backlog over time (hosts marked, redis LLEN), its
maximum and the seconds it took to drain after the load ended, and a reconciliation: every
acknowledged report stored exactly once, and every host evaluated (needs_evaluation cleared, a
ClusterScore for its cluster).  The 1-minute load average is printed at start and end: on a shared
box other work competes for the same cores.

--nodes 2 runs each ingest node (gunicorn) in its own network namespace (tests/netns.py, as the
multi-node test does), reaching PostgreSQL and Redis through forwarders on its veth address; each
agent has a home node and fails over to the next; throughput is reported per node and combined.
"""
from __future__ import annotations

import argparse
import contextlib
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
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import ROOT, CpuSplit, percentile, scratch_database  # noqa: E402
from tests.faults.conftest import ThrowawayRedis  # noqa: E402
from tests.integration.fleet import SimulatedAgent, deliver, enroll_fleet, post_report  # noqa: E402
from tests.integration.servers import Gunicorn  # noqa: E402

DB_NAME = "chipwatch_bench_load"
CLUSTERS = 50
GRACE_S = 60  # after --duration: in-flight reports may still finish (retries included)
SAMPLE_EVERY_S = 2
PRESETS = {  # a couple of minutes for anyone to repeat; issue 13's whole-stack target
    "short": {"agents": 2000, "interval": 60, "duration": 90},
    "full": {"agents": 20000, "interval": 60, "duration": 600},
}


# --- the simulated fleet (client processes) ---------------------------------------------------

def _client_process(args) -> dict:
    """One client process drives its share of agents with a thread pool; returns what it saw."""
    import requests

    urls, enrolled, nodes, interval, stop_at, threads, seed = args
    rng = random.Random(seed)
    fleet = SimulatedAgent.fleet(enrolled, nodes=nodes)
    by_id = {agent.id: agent for agent in fleet}
    lock = threading.Lock()
    latencies, outcomes, made, unacknowledged = [], Counter(), [0], [0]
    local = threading.local()

    def send(url, body):
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        status = post_report(session, url, by_id[body["agent_id"]], body)
        with lock:
            latencies.append(time.perf_counter() - started)
            outcomes["acknowledged" if status == 200 else status] += 1
        return status

    def run_and_reschedule(n: int) -> None:
        agent = fleet[n]
        with lock:
            made[0] += 1
        if not deliver(agent, agent.next_report(), urls, send=send, until=stop_at + GRACE_S, rng=rng):
            with lock:
                unacknowledged[0] += 1
        with wake:
            heapq.heappush(due, (time.time() + interval, n))
            wake.notify()

    due = [(time.time() + rng.uniform(0, interval), n) for n in range(len(fleet))]
    heapq.heapify(due)
    wake = threading.Condition()
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
    acknowledged = [(report_id, url) for agent in fleet for report_id, url in agent.acknowledged_by.items()]
    return {"latencies": latencies, "outcomes": outcomes, "acknowledged": acknowledged, "made": made[0],
            "unacknowledged": unacknowledged[0]}


# --- the stack ----------------------------------------------------------------------------------

def production_env(redis_url: str, allowed_hosts: str = "127.0.0.1,localhost") -> dict:
    """config.production without the TLS redirect (plain HTTP), fake NVML accepted."""
    return {"DJANGO_SETTINGS_MODULE": "config.production", "SECRET_KEY": secrets.token_urlsafe(48),
            "SECURE_SSL_REDIRECT": "0", "ALLOWED_HOSTS": allowed_hosts, "CHIPWATCH_ACCEPT_SYNTHETIC": "1",
            "REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url,
            # connections kept for the run, so each backend's CPU stays countable (bench._stack.CpuSplit)
            "DB_CONN_MAX_AGE": "3600"}


def celery(kind: str, database_url: str, env: dict, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", kind, "--loglevel", "WARNING", *extra],
                            cwd=ROOT, env=dict(os.environ, DATABASE_URL=database_url, LOG_LEVEL="WARNING", **env),
                            stdout=subprocess.DEVNULL)


def _rehost(url: str, host: str, port: int) -> str:
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=(userinfo + "@" if userinfo else "") + f"{host}:{port}"))


def ingest_nodes(stack: contextlib.ExitStack, *, count: int, database_url: str, redis_url: str,
                 workers: int) -> list[Gunicorn]:
    """`count` gunicorn nodes: on loopback for one, each in its own network namespace for more."""
    if count == 1:
        return [Gunicorn(database_url, workers=workers, env=production_env(redis_url), boot_timeout=300)]
    from tests.netns import forwarded, namespaces, netns_unavailable

    why = netns_unavailable()
    if why:
        sys.exit(f"--nodes {count} needs network namespaces (ip netns as root): {why}")
    make_namespace = stack.enter_context(namespaces())
    pg, redis_ = urlsplit(database_url), urlsplit(redis_url)
    nodes = []
    for _ in range(count):
        namespace = make_namespace()
        pg_port = stack.enter_context(forwarded(namespace.outside_ip, (pg.hostname, pg.port or 5432)))
        redis_port = stack.enter_context(forwarded(namespace.outside_ip, (redis_.hostname, redis_.port)))
        node_redis = _rehost(redis_url, namespace.outside_ip, redis_port)
        nodes.append(Gunicorn(_rehost(database_url, namespace.outside_ip, pg_port), workers=workers,
                              host=namespace.inside_ip, launcher=namespace.launcher, boot_timeout=300,
                              env=production_env(node_redis, allowed_hosts=namespace.inside_ip)))
    return nodes


def sample_backlog(redis_url: str, stop: threading.Event, samples: list, started: float) -> None:
    """Every SAMPLE_EVERY_S: (seconds, LLEN of the Celery queue, hosts still marked needs_evaluation).
    The marked hosts are the real backlog: queued requests coalesce (one batch takes every marked host)."""
    import redis
    from django.db import connection

    client = redis.Redis.from_url(redis_url)
    while not stop.is_set():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM inventory_host WHERE needs_evaluation IS NOT NULL")
            pending = cursor.fetchone()[0]
        samples.append((time.time() - started, client.llen("celery"), pending))
        stop.wait(SAMPLE_EVERY_S)
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


def backlog_summary(samples: list, load_seconds: float, settle_seconds: float, settled: bool) -> list[str]:
    """Maximum backlog (and when), and how long after the load ended the marks took to reach 0."""
    if not samples:
        return ["no backlog samples"]
    peak_t, _, peak = max(samples, key=lambda sample: sample[2])
    lines = [f"evaluation backlog: max {peak} hosts marked at {peak_t:.0f} s; at the end of the load "
             f"{min(samples, key=lambda sample: abs(sample[0] - load_seconds))[2]} hosts"]
    lines.append(f"drained {settle_seconds:.0f} s after the load ended" if settled
                 else f"NOT drained within --settle ({settle_seconds:.0f} s after the load ended)")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), help="sets --agents/--interval/--duration")
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=150, help="seconds of load (new reports)")
    parser.add_argument("--interval", type=float, default=60, help="seconds between one agent's reports")
    parser.add_argument("--nodes", type=int, default=1, help="ingest nodes; >1: each in a network namespace")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers per node")
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--client-threads", type=int, default=24, help="per client process")
    parser.add_argument("--settle", type=float, default=900, help="max seconds to wait for evaluations after load")
    args = parser.parse_args()
    if args.preset:
        for name, value in PRESETS[args.preset].items():
            setattr(args, name, value)

    load_at_start = os.getloadavg()
    database_url = scratch_database(DB_NAME)
    os.environ.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="config.settings")
    import django

    django.setup()
    redis_server = ThrowawayRedis()
    processes, nodes = [], []
    with contextlib.ExitStack() as stack:
        try:
            redis_server.start()
            env = production_env(redis_server.url)
            t0 = time.perf_counter()
            enrolled = enroll_fleet(args.agents, clusters=CLUSTERS, through_service=False)
            print(f"enrolled {len(enrolled)} agents in {CLUSTERS} clusters in {time.perf_counter() - t0:.1f} s",
                  flush=True)
            nodes += ingest_nodes(stack, count=args.nodes, database_url=database_url, redis_url=redis_server.url,
                                 workers=args.workers)
            with ThreadPoolExecutor(len(nodes)) as pool:
                list(pool.map(Gunicorn.start, nodes))
            urls = [node.url for node in nodes]
            processes += [celery("worker", database_url, env, "-c", str(args.celery_concurrency)),
                          celery("beat", database_url, env)]
            samples, sampling = [], threading.Event()
            started = time.time()
            stop_at = started + args.duration
            sampler = threading.Thread(target=sample_backlog, args=(redis_server.url, sampling, samples, started),
                                       daemon=True)
            sampler.start()
            shares = [enrolled[n::args.client_processes] for n in range(args.client_processes)]
            with CpuSplit() as cpu, Pool(args.client_processes) as pool:
                parts = pool.map(_client_process, [(urls, share, len(urls), args.interval, stop_at,
                                                    args.client_threads, n) for n, share in enumerate(shares)])
            load_seconds = time.time() - started
            from inventory.models import Host

            settle_started = time.time()
            settled = False
            while time.time() - settle_started < args.settle:
                if not Host.objects.filter(needs_evaluation__isnull=False).exists():
                    settled = True
                    break
                time.sleep(1)
            settle_seconds = time.time() - settle_started
            time.sleep(SAMPLE_EVERY_S)
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
            for node in nodes:
                node.kill()
            redis_server.kill()
    load_at_end = os.getloadavg()

    latencies = sorted(lat for part in parts for lat in part["latencies"])
    outcomes = sum((part["outcomes"] for part in parts), Counter())
    acknowledged = [report_id for part in parts for report_id, _ in part["acknowledged"]]
    per_node = Counter(url for part in parts for _, url in part["acknowledged"])
    made = sum(part["made"] for part in parts)
    attempts = sum(outcomes.values())
    result = reconcile(acknowledged, [agent_id for agent_id, _, _ in enrolled])
    print(f"agents={args.agents} interval={args.interval:.0f}s duration={args.duration:.0f}s nodes={args.nodes} "
          f"gunicorn workers={args.workers}/node celery concurrency={args.celery_concurrency} "
          f"clients={args.client_processes}x{args.client_threads} threads; cores={os.cpu_count()}")
    print("load average (1/5/15 min) at start " + "/".join(f"{x:.2f}" for x in load_at_start)
          + ", at end " + "/".join(f"{x:.2f}" for x in load_at_end))
    print(f"during the load: {cpu.shares()} (rest: the client processes and anything else)")
    print(f"reports made {made}, acknowledged {len(acknowledged)} in {load_seconds:.1f} s = "
          f"{len(acknowledged) / load_seconds:.1f} reports/s (offered {args.agents / args.interval:.1f}/s); "
          f"given up unacknowledged {sum(part['unacknowledged'] for part in parts)}")
    if len(urls) > 1:
        print("per node: " + ", ".join(f"{url} {n} ({n / load_seconds:.1f}/s)" for url, n in sorted(per_node.items()))
              + f"; combined {sum(per_node.values()) / load_seconds:.1f}/s")
    print(f"HTTP attempts {attempts}: latency p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
          f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, max {latencies[-1] * 1000:.0f} ms")
    errors = {k: v for k, v in outcomes.items() if k != "acknowledged"}
    print("outcomes: " + ", ".join(f"{k} {v} ({v / attempts:.2%})" for k, v in outcomes.most_common())
          + ("" if errors else "  (no errors)"))
    print(f"every {SAMPLE_EVERY_S} s, seconds:LLEN celery/hosts awaiting evaluation: "
          + " ".join(f"{t:.0f}s:{n}/{p}" for t, n, p in samples))
    for line in backlog_summary(samples, load_seconds, settle_seconds, settled):
        print(line)
    print("reconciliation: " + ", ".join(f"{k}={v}" for k, v in result.items()))
    ok = (result["stored_twice"] == 0 and result["acknowledged_missing"] == 0 and result["hosts_not_evaluated"] == 0
          and result["acknowledged_twice"] == 0)
    print("RECONCILED: every acknowledged report stored exactly once, every reporting host evaluated" if ok
          else "NOT RECONCILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
