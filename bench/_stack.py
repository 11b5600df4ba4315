"""Shared bench plumbing: a scratch PostgreSQL database; gunicorn comes from tests/integration/servers.py."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.integration.servers import gunicorn  # noqa: E402,F401  (shared with the tests)

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def scratch_database(name: str) -> str:
    """Drop and create database `name`, migrate it, return its URL."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True,
                   env=dict(os.environ, DATABASE_URL=url))
    return url


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def fleet_template(profile: str = "hgx-h100"):
    """One collection from a fake-NVML profile, as JSON text, plus the identifiers to re-key per host."""
    import json

    from chipwatch_agent.collector import Collector
    from chipwatch_agent.nvml_fake import FakeNvml

    collection = Collector(FakeNvml.from_profile(profile)).collect()
    gpus = collection["identity"]["gpus"]
    identifiers = [g["uuid"] for g in gpus] + [g["serial"] for g in gpus if isinstance(g.get("serial"), str)]
    return json.dumps(collection), identifiers


def host_collection(template: str, identifiers: list[str], host: int) -> dict:
    """The template with GPU UUIDs and board serials of this host's own: a synthetic fleet of
    clones would make every evaluation raise duplicate-identity findings and measure that instead."""
    import hashlib
    import json
    import uuid

    for original in identifiers:
        if original.startswith("GPU-"):
            fresh = "GPU-" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{host}/{original}"))
        else:
            fresh = str(int(hashlib.sha256(f"{host}/{original}".encode()).hexdigest(), 16))[:13]
        template = template.replace(f'"{original}"', f'"{fresh}"')
    return json.loads(template)
