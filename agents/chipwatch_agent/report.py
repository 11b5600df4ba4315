"""Turns one collection into a report v1, and decides when a report may be lean."""
from __future__ import annotations

import os
import platform
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

from . import __version__, protocol

NIL_AGENT_ID = "00000000-0000-0000-0000-000000000000"
FULL_IDENTITY_EVERY_S = 24 * 3600

_uuid7_lock = threading.Lock()
_uuid7_last = [0, 0]  # (unix ms, 12-bit counter) of the last id


def uuid7(now_ms: Optional[int] = None) -> str:
    """RFC 9562 UUIDv7: 48-bit Unix ms, then a counter, so ids sort in creation order
    even within one millisecond (the stdlib has no uuid7 before Python 3.14)."""
    with _uuid7_lock:
        ms = int(time.time() * 1000) if now_ms is None else now_ms
        last_ms, counter = _uuid7_last
        if ms <= last_ms:
            ms, counter = last_ms, counter + 1
            if counter > 0xFFF:
                ms, counter = ms + 1, 0
        else:
            counter = int.from_bytes(os.urandom(2), "big") & 0x7FF  # leave room to count up
        _uuid7_last[:] = [ms, counter]
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))


def rfc3339(ts: float) -> str:
    """UTC with milliseconds and a Z, e.g. 2026-11-28T16:40:00.123Z."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _read_text(path: str) -> Any:
    try:
        return Path(path).read_text("utf-8").strip()[:256]
    except (OSError, UnicodeDecodeError) as exc:
        return {"error": type(exc).__name__}


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text("utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')[:256]
    except (OSError, UnicodeDecodeError):
        pass
    return platform.platform()[:256]


# Containers and cloned images often share /etc/machine-id, and a simulated fleet runs many
# agents on one machine: these variables name the host instead.  Like every reported fact,
# the host owner controls them.
HOSTNAME_ENV = "CHIPWATCH_AGENT_HOSTNAME"
MACHINE_ID_ENV = "CHIPWATCH_AGENT_MACHINE_ID"


def host_facts() -> dict:
    """What the operating system says about the host (NVML versions are added by the collector)."""
    return {
        "hostname": (os.environ.get(HOSTNAME_ENV) or socket.gethostname() or "unknown")[:255],
        "machine_id": os.environ.get(MACHINE_ID_ENV, "")[:64] or _read_text("/etc/machine-id"),
        "boot_id": _read_text("/proc/sys/kernel/random/boot_id"),
        "os": _os_name(),
        "kernel": platform.release()[:256],
    }


def pynvml_version() -> Any:
    try:
        return metadata.version("nvidia-ml-py")
    except metadata.PackageNotFoundError:
        return {"error": "PackageNotFoundError"}


def build_report(
    collection: dict,
    *,
    agent_id: str,
    sequence: int,
    backend: str,
    dropped_reports: int = 0,
    dropped_total: int = 0,
    spool_depth: int = 0,
    collected_at: Optional[float] = None,
    report_id: Optional[str] = None,
) -> dict:
    """A complete report (always with the full identity; `lean()` strips it when allowed)."""
    identity = collection["identity"]
    report = {
        "schema": protocol.SCHEMA_ID,
        "report_id": report_id or uuid7(),
        "agent_id": agent_id,
        "sequence": sequence,
        "collected_at": rfc3339(time.time() if collected_at is None else collected_at),
        "synthetic": backend != "nvml",
        "agent": {
            "version": __version__,
            "backend": backend,
            "pynvml_version": pynvml_version(),
            "dropped_reports": dropped_reports,
            "dropped_total": dropped_total,
            "spool_depth": spool_depth,
        },
        "host": dict(host_facts(), **collection["host"]),
        "nvml_status": collection["nvml_status"],
        "identity_sha256": protocol.identity_sha256(identity),
        "identity": identity,
        "telemetry": collection["telemetry"],
    }
    if "attestation" in collection:
        report["attestation"] = collection["attestation"]
    return report


def lean(report: dict) -> dict:
    """The same report without its identity section (the hash stays)."""
    return {key: value for key, value in report.items() if key != "identity"}


class IdentityPolicy:
    """When a report may leave out `identity`: only if the server acknowledged a full
    report with the same identity hash in this process, less than 24 h ago.

    The state is deliberately in memory: after a restart the first report is full.
    """

    def __init__(self, full_every_s: float = FULL_IDENTITY_EVERY_S):
        self.full_every_s = full_every_s
        self.acked_sha256: Optional[str] = None
        self.acked_at: Optional[float] = None

    def may_omit(self, identity_sha256: str, now: float) -> bool:
        return (
            self.acked_sha256 == identity_sha256
            and self.acked_at is not None
            and now - self.acked_at < self.full_every_s
        )

    def forget(self) -> None:
        """The server said it does not know our identity: send it in full again."""
        self.acked_sha256 = self.acked_at = None

    def acknowledged(self, sent: dict, now: float) -> None:
        if "identity" in sent:
            self.acked_sha256, self.acked_at = sent["identity_sha256"], now
