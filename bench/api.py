"""Read API latency: the cluster list and the cluster audit report over a 10 k-cluster fleet on PostgreSQL.

    .venv/bin/python bench/api.py [--clusters 10000] [--requests 400] [--workers 2] [--clients 2] [--keep]

Seeds a scratch database (chipwatch_bench_api: N clusters, one 8-GPU host each, with reports,
classifications, scores and findings), serves it with gunicorn on loopback, and sends
token-authenticated GETs from `--clients` threads with keep-alive connections.  Prints p50/p99
latency and requests/s per endpoint (target p99 < 100 ms), then drops the database.
"""
from __future__ import annotations

import argparse
import http.client
import os
import random
import sys
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import PG_ADMIN_URL, gunicorn, percentile, scratch_database  # noqa: E402

DB_NAME = "chipwatch_bench_api"
GPUS_PER_HOST = 8
CLUSTERS_PER_FAMILY = 100


def seed(clusters: int) -> dict:
    """Bulk-insert the fleet (signals and audit are bypassed: this measures reads)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from compliance.access.models import RoleGrant
    from compliance.access.services import api_token_create
    from compliance.models import ClusterScore, Finding, FindingEvent, GpuClassification
    from inventory.models import Agent, Cluster, Gpu, Host, Observation, Organization, Site

    now = timezone.now()
    families = max(1, clusters // CLUSTERS_PER_FAMILY)
    roots = Organization.objects.bulk_create(
        Organization(name=f"Family {f} Holdings", country_of_incorporation="US", headquarters_country="US")
        for f in range(families))
    children = Organization.objects.bulk_create(
        Organization(name=f"Family {f} Compute", country_of_incorporation="SG", headquarters_country="SG",
                     parent=root, kind="cloud_provider") for f, root in enumerate(roots))
    sites = Site.objects.bulk_create(Site(name=f"DC-{f}", organization=child, country=("SG", "DE", "AE", "JP")[f % 4])
                                     for f, child in enumerate(children))
    cluster_rows = Cluster.objects.bulk_create(
        Cluster(name=f"cluster-{n:05d}", site=sites[n % families], operator=children[n % families],
                declared_purpose="training") for n in range(clusters))
    hosts = Host.objects.bulk_create(
        Host(hostname=f"hgx-{n:05d}", cluster=c, machine_id=f"{n:032x}", first_seen=now, last_seen=now)
        for n, c in enumerate(cluster_rows))
    agents = Agent.objects.bulk_create(Agent(host=h, public_key=f"{n:043d}=") for n, h in enumerate(hosts))
    observations, gpus = [], []
    for n, (host, agent) in enumerate(zip(hosts, agents)):
        uuids = [f"GPU-{uuid.uuid5(uuid.NAMESPACE_URL, f'{n}/{i}')}" for i in range(GPUS_PER_HOST)]
        identity = {"gpus": [{"index": i, "uuid": u, "name": "NVIDIA H100 80GB HBM3", "serial": f"{n:07d}{i}",
                              "pci": {"bus_id": f"00000000:{0x18 + i:02X}:00.0", "device_id": 0x233010DE},
                              "nvlinks": [{"link": k, "state": "active", "version": 4} for k in range(18)]}
                             for i, u in enumerate(uuids)]}
        observations.append(Observation(
            report_id=uuid.uuid4(), agent=agent, host=host, sequence=0, collected_at=now - timedelta(days=2),
            received_at=now - timedelta(days=2), clock_skew_seconds=0, payload={"identity": identity},
            payload_sha256="0" * 64, identity_sha256="0" * 64, full_identity=True, signature_status="valid"))
        gpus.extend(Gpu(uuid=u, host=host, index=i, name="NVIDIA H100 80GB HBM3", pci_device_id=0x2330,
                        active_nvlinks=18, nvlink_version=4, first_seen=now, last_seen=now)
                    for i, u in enumerate(uuids))
    observations = Observation.objects.bulk_create(observations, batch_size=2000)
    gpus = Gpu.objects.bulk_create(gpus, batch_size=5000)
    GpuClassification.objects.bulk_create(
        (GpuClassification(gpu=g, catalog_model="h100-sxm5-80gb", match_basis="pci", eccn="3A090", paragraph="3A090.a",
                           rule="bench", as_of=date.today(), evaluated_at=now) for g in gpus), batch_size=5000)
    ClusterScore.objects.bulk_create(
        (ClusterScore(cluster=c, as_of=date.today() - timedelta(days=1), rule="bench", gpu_count=8,
                      controlled_gpu_count=8, aggregate_tpp=8 * 15832.0, h100_equivalents=8.0, risk_score=40,
                      figures={"contributions": []}, content_sha256="0" * 64, computed_at=now)
         for c in cluster_rows), batch_size=5000)
    findings = Finding.objects.bulk_create(
        (Finding(kind="bench", severity=30, subject_type="cluster", subject_id=c.pk, cluster=c,
                 organization_id=c.operator_id, dedup_key=f"bench:{c.pk}", title=f"bench finding {c.pk}",
                 evidence={"observation_ids": [o.pk], "figures": {}}, citation="bench", first_seen=now - timedelta(days=2),
                 last_seen=now) for c, o in zip(cluster_rows, observations)), batch_size=5000)
    FindingEvent.objects.bulk_create((FindingEvent(finding=f, at=f.first_seen, to_status="open", note="raised")
                                      for f in findings), batch_size=5000)
    user_model = get_user_model()
    admin = user_model.objects.create_user("bench-admin")
    auditor = user_model.objects.create_user("bench-auditor")
    RoleGrant.objects.create(user=admin, role="admin")
    RoleGrant.objects.create(user=auditor, role="auditor", organization=roots[0])
    return {"admin": api_token_create(user=admin)[1], "auditor": api_token_create(user=auditor)[1],
            "cluster_ids": [c.pk for c in cluster_rows], "gpus": len(gpus)}


def hammer(base: str, token: str, paths: list[str], clients: int) -> dict:
    """GET every path once, spread over `clients` threads with one keep-alive connection each."""
    split = urlsplit(base)
    latencies, failures, lock = [], [], threading.Lock()
    chunks = [paths[i::clients] for i in range(clients)]

    def worker(chunk):
        conn = http.client.HTTPConnection(split.hostname, split.port, timeout=60)
        for path in chunk:
            started = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Token {token}"})
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if response.status != 200:
                    failures.append((path, response.status))
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    latencies.sort()
    return {"requests": len(paths), "rps": len(paths) / seconds, "p50_ms": percentile(latencies, 0.50) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000, "failures": failures}


def drop_database() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clusters", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=400, help="per endpoint")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--clients", type=int, default=2, help="concurrent client threads")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    database_url = scratch_database(DB_NAME)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    try:
        started = time.perf_counter()
        fleet = seed(args.clusters)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # what autovacuum would have done after a load this size
        print(f"seeded {args.clusters} clusters, {fleet['gpus']} GPUs in {time.perf_counter() - started:.0f} s")
        rng = random.Random(7)
        ids, n, today = fleet["cluster_ids"], args.requests, date.today().isoformat()
        scenarios = [
            ("cluster list, admin (50/page, random offset)", fleet["admin"],
             [f"/api/v1/clusters?limit=50&offset={rng.randrange(0, len(ids) - 50)}" for _ in range(n)]),
            ("cluster list, auditor of one family", fleet["auditor"], ["/api/v1/clusters?limit=50"] * n),
            ("cluster list filtered by country, newest first", fleet["admin"],
             [f"/api/v1/clusters?country=DE&ordering=-id&limit=50&offset={rng.randrange(0, 2000)}"
              for _ in range(n)]),
            ("audit report JSON (8 GPUs, findings, figures)", fleet["admin"],
             [f"/api/v1/clusters/{rng.choice(ids)}/audit?as_of={today}" for _ in range(n)]),
            ("audit report CSV", fleet["admin"],
             [f"/api/v1/clusters/{rng.choice(ids)}/audit?as_of={today}&format=csv" for _ in range(n)]),
        ]
        with gunicorn(database_url, workers=args.workers) as base:
            hammer(base, fleet["admin"], scenarios[0][2][:20] + scenarios[3][2][:20], args.clients)  # warm up
            print(f"clusters={args.clusters} gunicorn workers={args.workers} clients={args.clients} "
                  f"requests/endpoint={n}")
            for name, token, paths in scenarios:
                r = hammer(base, token, paths, args.clients)
                verdict = "ok" if r["p99_ms"] < 100 else "OVER 100 ms"
                print(f"[{name}] {r['rps']:.0f} req/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms "
                      f"({verdict}), failures {len(r['failures'])}{' ' + str(r['failures'][:3]) if r['failures'] else ''}")
    finally:
        if not args.keep:
            drop_database()


if __name__ == "__main__":
    main()
