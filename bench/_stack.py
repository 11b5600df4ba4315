"""Shared bench plumbing: a scratch PostgreSQL database, CPU by process kind, Granian beside gunicorn
(which comes from tests/integration/servers.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.integration.servers import Gunicorn, gunicorn  # noqa: E402,F401  (shared with the tests)

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


class CpuSplit:
    """CPU seconds the box spent over a block, read from /proc: by kind of process, PostgreSQL
    (every server process), the web server (gunicorn or Granian, all its processes), Celery (worker
    and beat) and Redis; the
    kernel's interrupt time (loopback networking is mostly softirq, charged to no process); and
    the rest of the busy time (the client processes, which come and go inside the block, and
    anything else running).  Processes of the named kinds must live through the block (persistent
    database connections), or their CPU counts as the rest's."""

    KINDS = ("postgresql", "web", "celery", "redis", "interrupts")

    def __enter__(self):
        self._start = self._read()
        return self

    def __exit__(self, *exc):
        end = self._read()
        self.seconds = {kind: end[kind] - self._start[kind] for kind in (*self.KINDS, "busy", "idle")}
        self.seconds["rest"] = self.seconds["busy"] - sum(self.seconds[kind] for kind in self.KINDS)
        return False

    def shares(self) -> str:
        """'postgresql 12.0 s (20 %), web ..., rest ...; box idle 4 %'."""
        total = self.seconds["busy"] + self.seconds["idle"]
        shares = ", ".join(f"{kind} {self.seconds[kind]:.1f} s ({self.seconds[kind] / total:.0%})"
                           for kind in (*self.KINDS, "rest"))
        return f"CPU {shares}; box idle {self.seconds['idle'] / total:.0%}"

    def per_item_ms(self, items: int) -> str:
        """'postgresql 1.2, web 2.3, ... rest 0.9 ms/report; box idle 4 %'."""
        shares = ", ".join(f"{kind} {self.seconds[kind] / items * 1000:.2f}" for kind in (*self.KINDS, "rest"))
        idle = self.seconds["idle"] / max(self.seconds["busy"] + self.seconds["idle"], 1e-9)
        return f"CPU {shares} ms/report; box idle {idle:.0%}"

    @staticmethod
    def _read() -> dict[str, float]:
        tick = os.sysconf("SC_CLK_TCK")
        totals = dict.fromkeys(CpuSplit.KINDS, 0.0)
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    name, fields = stat.read().split("(", 1)[1].rsplit(")", 1)
                    fields, command = fields.split(), cmdline.read()
            except OSError:  # exited meanwhile
                continue
            kind = ("postgresql" if name == "postgres" else "redis" if name == "redis-server" else
                    "web" if b"gunicorn" in command or b"granian" in command else
                    "celery" if b"celery" in command else None)
            if kind:
                totals[kind] += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        with open("/proc/stat") as stat:
            cpu = [int(value) for value in stat.readline().split()[1:]]
        idle = cpu[3] + cpu[4]  # idle, iowait
        totals.update(busy=(sum(cpu[:8]) - idle) / tick, idle=idle / tick, interrupts=(cpu[5] + cpu[6]) / tick)
        return totals


class Granian(Gunicorn):
    """chipwatch under Granian's WSGI interface (HTTP parsed and written in Rust, the Django app in
    `threads` Python threads per worker): measured beside gunicorn by bench/ingest.py --granian,
    not the production server."""

    NAME = "granian"

    def __init__(self, database_url: str, *, threads: int = 1, **kwargs):
        super().__init__(database_url, **kwargs)
        self.threads = threads

    def command(self) -> list[str]:
        return [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", self.host, "--port", str(self.port),
                "--workers", str(self.workers), "--blocking-threads", str(self.threads), "--log-level", "warning",
                "config.wsgi:application"]
