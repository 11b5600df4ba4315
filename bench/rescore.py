"""Fleet re-score at scale: 1 M GPUs (125 k hosts, 10 k clusters, 2 k organizations) in PostgreSQL.

    .venv/bin/python bench/rescore.py [--gpus 1000000] [--naive-sample 40]

Times, in one run: the production re-score (`compliance.services.clusters_score`: one GROUP BY,
the core once per distinct (model, place), bulk upsert of 10 k ClusterScore rows); a naive
per-object ORM implementation on a sample of clusters, scaled up; and one plain SQL aggregate
pass over the GPU table (the floor).  Prints the ratios last.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import scratch_database  # noqa: E402

DB_NAME = "chipwatch_bench_rescore"
COUNTRIES = ["US", "SG", "DE", "CN", "AE", "JP", "IN", "MY", "NL", "GB", "KR", "SA", "VN", "MO", "FR"]
MODELS = ["h100-sxm", "h800-sxm", "h20", "h200", "a100-sxm", "a800-sxm", "b200", "l40s", "l20", "rtx-4090"]
NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def copy_rows(conn, model, rows, given: tuple[str, ...]):
    """COPY rows into a model's table; columns not given get '' (text, NOT NULL) or NULL."""
    fields = [f for f in model._meta.concrete_fields]
    columns = [f.column for f in fields]
    defaults = []
    for f in fields:
        if f.attname in given:
            defaults.append(None)
        elif f.null:
            defaults.append(("null",))
        elif f.get_internal_type() in ("CharField", "TextField"):
            defaults.append(("value", ""))
        elif f.get_internal_type() == "JSONField":
            defaults.append(("value", "{}"))
        else:
            raise ValueError(f"{model.__name__}.{f.attname} needs a value")
    position = {name: i for i, name in enumerate(given)}
    with conn.cursor() as cur, cur.copy(f'COPY "{model._meta.db_table}" ({", ".join(columns)}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[position[f.attname]] if d is None else (None if d[0] == "null" else d[1])
                            for f, d in zip(fields, defaults)])


def build_fleet(database_url: str, gpus: int):
    import psycopg

    from compliance.models import GpuClassification
    from inventory.models import Cluster, Gpu, Host, Organization, Site

    rng = random.Random(7)
    orgs, clusters, hosts = 2000, 10_000, gpus // 8
    with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as conn:
        copy_rows(conn, Organization, (
            (n, f"Org {n}", rng.choice(COUNTRIES), rng.choice(COUNTRIES),
             rng.randint(1, 200) if n > 200 and rng.random() < 0.3 else None, "operator", "declared", NOW, NOW)
            for n in range(1, orgs + 1)),
            ("id", "name", "country_of_incorporation", "headquarters_country", "parent_id", "kind", "provenance",
             "created_at", "updated_at"))
        copy_rows(conn, Site, ((n, f"Site {n}", n, rng.choice(COUNTRIES), "declared") for n in range(1, orgs + 1)),
                  ("id", "name", "organization_id", "country", "provenance"))
        cluster_models = {c: rng.sample(MODELS, rng.choice((1, 1, 2))) for c in range(1, clusters + 1)}
        copy_rows(conn, Cluster, ((c, f"cluster-{c}", (c - 1) % orgs + 1, (c - 1) % orgs + 1, "training", "declared")
                                  for c in range(1, clusters + 1)),
                  ("id", "name", "site_id", "operator_id", "declared_purpose", "provenance"))
        copy_rows(conn, Host, ((h, f"host-{h}", (h - 1) % clusters + 1, True, NOW, NOW, "reported")
                               for h in range(1, hosts + 1)),
                  ("id", "hostname", "cluster_id", "nvml_ok", "first_seen", "last_seen", "provenance"))
        models = [cluster_models[(g // 8) % clusters + 1][g % len(cluster_models[(g // 8) % clusters + 1])]
                  for g in range(gpus)]
        copy_rows(conn, Gpu, ((g + 1, f"GPU-{g:036d}", g // 8 + 1, g % 8, NOW, NOW, "reported") for g in range(gpus)),
                  ("id", "uuid", "host_id", "index", "first_seen", "last_seen", "provenance"))
        copy_rows(conn, GpuClassification, ((g + 1, g + 1, models[g], NOW.date(), NOW) for g in range(gpus)),
                  ("id", "gpu_id", "catalog_model", "as_of", "evaluated_at"))
        for table in ("inventory_organization", "inventory_site", "inventory_cluster", "inventory_host",
                      "inventory_gpu", "compliance_gpuclassification"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.execute("ANALYZE")
    return clusters


def naive_rescore(cluster_ids, as_of: date) -> None:
    """What a straightforward ORM loop would do: walk cluster → hosts → GPUs → classification."""
    from compliance.models import ClusterScore, GpuClassification
    from compliance.selectors import families
    from compliance.services import _licenses_at, _licenses_in_force, cluster_figures
    from inventory.models import Cluster

    for cluster in Cluster.objects.filter(pk__in=cluster_ids):
        counts = Counter()
        for host in cluster.hosts.all():
            for gpu in host.gpus.all():
                counts[GpuClassification.objects.get(gpu=gpu).catalog_model] += 1
        family_of = families()
        family = family_of[cluster.operator_id]
        figures = cluster_figures(counts=dict(counts), unidentified=0, as_of=as_of, country=cluster.site.country,
                                  headquarters=family.headquarters, ultimate_parent_hq=family.ultimate_parent_hq,
                                  licenses=_licenses_at(_licenses_in_force(as_of), cluster, family_of))
        ClusterScore.objects.update_or_create(cluster=cluster, as_of=as_of, defaults=dict(
            rule=figures["rule"] or "", gpu_count=figures["gpu_count"], controlled_gpu_count=figures["controlled_gpus"],
            aggregate_tpp=figures["aggregate_tpp"], h100_equivalents=figures["h100_equivalents"],
            risk_score=figures["risk_score"], figures=figures, content_sha256="", computed_at=NOW))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gpus", type=int, default=1_000_000)
    parser.add_argument("--naive-sample", type=int, default=40, help="clusters the naive loop scores")
    args = parser.parse_args()
    database_url = scratch_database(DB_NAME)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    from compliance.models import ClusterScore
    from compliance.services import clusters_score

    started = time.perf_counter()
    clusters = build_fleet(database_url, args.gpus)
    print(f"built {args.gpus} GPUs / {args.gpus // 8} hosts / {clusters} clusters / 2000 orgs "
          f"in {time.perf_counter() - started:.1f} s")
    as_of = date(2026, 11, 28)

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT h.cluster_id, gc.catalog_model, count(*) FROM inventory_gpu g"
                       " JOIN inventory_host h ON h.id = g.host_id"
                       " LEFT JOIN compliance_gpuclassification gc ON gc.gpu_id = g.id GROUP BY 1, 2")
        groups = len(cursor.fetchall())
    single_pass = time.perf_counter() - started

    started = time.perf_counter()
    scored = clusters_score(as_of=as_of)
    full = time.perf_counter() - started
    assert scored == clusters and ClusterScore.objects.filter(as_of=as_of).count() == clusters
    total_gpus = sum(ClusterScore.objects.filter(as_of=as_of).values_list("gpu_count", flat=True))

    sample = list(range(1, args.naive_sample + 1))
    started = time.perf_counter()
    naive_rescore(sample, date(2026, 11, 27))
    naive_sample = time.perf_counter() - started
    naive_scaled = naive_sample * clusters / len(sample)

    print(f"plain SQL aggregate pass: {single_pass:.2f} s ({groups} (cluster, model) groups)")
    print(f"full re-score (clusters_score): {full:.2f} s for {scored} clusters, {total_gpus} GPUs counted")
    print(f"naive per-object ORM loop: {naive_sample:.2f} s for {len(sample)} clusters "
          f"→ {naive_scaled:.0f} s scaled to {clusters}")
    print(f"ratio naive/full = {naive_scaled / full:.0f}x; full/single pass = {full / single_pass:.2f}x")


if __name__ == "__main__":
    main()
