"""Agent footprint: CPU time and peak RSS of one 8-GPU collection cycle, and of the idle daemon.

    .venv/bin/python bench/agent.py [--profile hgx-h100] [--cycles 50] [--idle-seconds 10]

Cycle: collect (fake NVML replaying the profile, so it is the agent's own cost,
not the driver's), build the report, sign it, write it to the spool.  Each
phase runs in a fresh interpreter so peak RSS is its own.  Idle: a real
`chipwatch-agent run` process against a loopback stand-in server, measured
between cycles from /proc.  Targets: < 20 ms CPU per cycle, < 60 MB RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CPU_TARGET_MS, RSS_TARGET_MB = 20.0, 60.0


def child_cycle(profile: str, cycles: int) -> dict:
    """Runs inside a fresh interpreter: time `cycles` full cycles, report per-cycle CPU."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chipwatch_agent import protocol
    from chipwatch_agent.collector import Collector
    from chipwatch_agent.nvml_fake import FakeNvml
    from chipwatch_agent.report import build_report
    from chipwatch_agent.spool import Spool

    key = Ed25519PrivateKey.generate()
    collector = Collector(FakeNvml.from_profile(profile))
    with tempfile.TemporaryDirectory() as spool_dir:
        spool = Spool(Path(spool_dir), max_files=cycles + 1, max_bytes=1 << 30)
        collect_ms, cycle_ms = [], []
        for sequence in range(1, cycles + 1):
            start = time.process_time()
            collection = collector.collect()
            collected = time.process_time()
            report = build_report(collection, agent_id="00000000-0000-0000-0000-000000000000",
                                  sequence=sequence, backend="fake")
            protocol.sign(key, report)
            spool.put(report)
            done = time.process_time()
            collect_ms.append((collected - start) * 1000)
            cycle_ms.append((done - start) * 1000)
    return {
        "gpus": len(report["identity"]["gpus"]),
        "report_bytes": len(protocol.canonical_json(report)),
        "first_cycle_cpu_ms": cycle_ms[0],
        "cycle_cpu_ms_median": statistics.median(cycle_ms[1:] or cycle_ms),
        "cycle_cpu_ms_max": max(cycle_ms[1:] or cycle_ms),
        "collect_cpu_ms_median": statistics.median(collect_ms[1:] or collect_ms),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


class _Ack(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        data = json.dumps({"status": "stored", "observation_id": 1, "report_id": body["report_id"]}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.server.reports += 1

    def log_message(self, *args):
        pass


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_memory_mb(pid: int) -> dict:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {name: int(status[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM")}


def idle_daemon(profile: str, idle_s: float) -> dict:
    """CPU and memory of `chipwatch-agent run` between two cycles (interval 1 h)."""
    from chipwatch_agent.state import Config, Paths, ensure_private_dir, save_private_key
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ack)
    server.reports = 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as state_dir:
        paths = Paths.resolve(state_dir)
        ensure_private_dir(paths.state_dir)
        save_private_key(paths.key, Ed25519PrivateKey.generate())
        Config(server_url=f"http://127.0.0.1:{server.server_address[1]}",
               agent_id="0190f5a2-0000-7000-8000-000000000001").save(paths.config)
        agent = subprocess.Popen([sys.executable, "-m", "chipwatch_agent", "run", "--fake-nvml", profile,
                                  "--interval", "3600", "--state-dir", state_dir, "--log-level", "WARNING"])
        try:
            deadline = time.monotonic() + 30
            while server.reports < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)
            cpu_before, started = _proc_cpu_s(agent.pid), time.monotonic()
            time.sleep(idle_s)
            cpu_idle = _proc_cpu_s(agent.pid) - cpu_before
            memory = _proc_memory_mb(agent.pid)
            startup_cpu = cpu_before
            agent.terminate()
            exit_code = agent.wait(timeout=10)
        finally:
            if agent.poll() is None:
                agent.kill()
            server.shutdown()
    return {
        "startup_and_first_cycle_cpu_s": startup_cpu,
        "idle_cpu_pct": 100 * cpu_idle / (time.monotonic() - started),
        "idle_rss_mb": memory["VmRSS"],
        "peak_rss_mb": memory["VmHWM"],
        "sigterm_exit_code": exit_code,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="hgx-h100")
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_cycle(args.profile, args.cycles)))
        return 0

    cycle = json.loads(subprocess.run(
        [sys.executable, __file__, "--child", "--profile", args.profile, "--cycles", str(args.cycles)],
        check=True, capture_output=True, text=True).stdout)
    idle = idle_daemon(args.profile, args.idle_seconds)
    print(f"profile {args.profile}: {cycle['gpus']} GPUs, report {cycle['report_bytes'] / 1024:.0f} KiB (full identity)")
    print(f"cycle (collect+build+sign+spool): median {cycle['cycle_cpu_ms_median']:.1f} ms CPU, "
          f"max {cycle['cycle_cpu_ms_max']:.1f} ms, first {cycle['first_cycle_cpu_ms']:.1f} ms "
          f"(collect alone {cycle['collect_cpu_ms_median']:.1f} ms); target < {CPU_TARGET_MS:.0f} ms")
    print(f"cycle process peak RSS: {cycle['peak_rss_mb']:.1f} MB; target < {RSS_TARGET_MB:.0f} MB")
    print(f"idle daemon: {idle['idle_cpu_pct']:.3f}% CPU over {args.idle_seconds:.0f} s, RSS {idle['idle_rss_mb']:.1f} MB, "
          f"peak {idle['peak_rss_mb']:.1f} MB; startup + first cycle {idle['startup_and_first_cycle_cpu_s']:.2f} s CPU; "
          f"SIGTERM exit {idle['sigterm_exit_code']}")
    ok = cycle["cycle_cpu_ms_median"] < CPU_TARGET_MS and max(cycle["peak_rss_mb"], idle["peak_rss_mb"]) < RSS_TARGET_MB
    print("within targets" if ok else "OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
