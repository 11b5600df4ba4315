"""Where a lean report's time goes: the ingest path in one process under cProfile, through the whole
WSGI stack (middleware, URL routing, view, service), against PostgreSQL, with the SQL it sends.

    .venv/bin/python bench/ingest_profile.py [--hosts 100] [--reports-per-host 4] [--database NAME] [--top 30]

Every host first sends one full report (not profiled), then `--reports-per-host` lean reports are
profiled.  Prints the functions by own time and by cumulative time, the statements per report and
the share of wall time spent waiting on PostgreSQL.  py-spy/pyinstrument are not installed here;
cProfile adds overhead to every Python call, so read the shares, not the absolute times.
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
from bench._stack import scratch_database  # noqa: E402
from bench.ingest import fleet_reports  # noqa: E402


class _SqlTimer:
    """execute_wrapper counting statements and the seconds spent in them (the database round trips)."""

    def __init__(self):
        self.statements, self.seconds = 0, 0.0
        self.by_statement: dict[str, list] = {}

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            self.seconds += elapsed
            self.statements += 1
            entry = self.by_statement.setdefault(" ".join(sql.split()[:4])[:70], [0, 0.0])
            entry[0] += 1
            entry[1] += elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--reports-per-host", type=int, default=4)
    parser.add_argument("--database", default="chipwatch_bench_ingest_profile")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = scratch_database(args.database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["CHIPWATCH_ACCEPT_SYNTHETIC"] = "1"
    # Evaluation is measured elsewhere: the on-commit enqueue goes to a Redis database no worker reads.
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    import django

    django.setup()
    from chipwatch_agent import protocol
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from django.db import connection
    from django.test import Client

    from inventory.services.enrollment import agent_enroll, enrollment_secret_create

    _, secret = enrollment_secret_create(label="bench")
    keys = [Ed25519PrivateKey.generate() for _ in range(args.hosts)]
    agent_ids = [str(agent_enroll(secret=secret, public_key=protocol.public_key_b64(k), hostname=f"hgx-{n:05d}",
                                  machine_id=f"{n:032x}").id) for n, k in enumerate(keys)]
    client = Client()

    def post(agent_id, body, signature):
        response = client.generic("POST", "/api/v1/reports", body, content_type="application/json",
                                  HTTP_X_CHIPWATCH_AGENT=agent_id, HTTP_X_CHIPWATCH_SIGNATURE=signature)
        assert response.status_code in (200, 201), response.content[:300]

    for agent_id, bodies in fleet_reports(agent_ids, keys, 1, full=True, first_sequence=0):
        post(agent_id, *bodies[0])
    lean = fleet_reports(agent_ids, keys, args.reports_per_host, full=False, first_sequence=1)
    requests = [(agent_id, body, sig) for n in range(args.reports_per_host) for agent_id, bodies in lean
                for body, sig in [bodies[n]]]

    timer = _SqlTimer()
    started = time.perf_counter()
    with connection.execute_wrapper(timer):
        for request in requests:
            post(*request)
    plain = time.perf_counter() - started
    profile = cProfile.Profile()
    for agent_id, bodies in fleet_reports(agent_ids, keys, args.reports_per_host, full=False,
                                          first_sequence=1 + args.reports_per_host):
        for body, sig in bodies:
            profile.runcall(post, agent_id, body, sig)
    n = len(requests)
    print(f"{n} lean reports in one process without the profiler: {plain:.2f} s = {n / plain:.0f} reports/s, "
          f"{timer.statements / n:.1f} SQL statements/report, {timer.seconds / plain:.0%} of wall time waiting on "
          f"PostgreSQL ({timer.seconds / n * 1000:.2f} ms/report)")
    for statement, (count, seconds) in sorted(timer.by_statement.items(), key=lambda item: -item[1][1]):
        print(f"  {seconds / n * 1000:6.2f} ms/report  {count / n:4.1f}x  {statement}")
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(order).print_stats(args.top)
        print(f"--- profile of {n} more lean reports by {order} ---")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])


if __name__ == "__main__":
    main()
