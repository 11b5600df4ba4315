"""Building signed v1 reports for ingest tests.

Reports normally come from the agent's collector over the fake NVML backend
(`tests.reports.collected_report`); `minimal_report` is a small hand-made one for
the HTTP-contract tests that only need a valid body.
"""
from __future__ import annotations

import copy
import uuid
from datetime import datetime, timezone

from chipwatch_agent import protocol


def minimal_report(agent_id: str, *, sequence: int = 0, gpus: int = 2, synthetic: bool = True) -> dict:
    identity = {
        "gpus": [
            {
                "index": i,
                "uuid": f"GPU-00000000-0000-4000-8000-{i:012d}",
                "name": "NVIDIA H800",
                "serial": f"165322{i:07d}",
                "pci": {"bus_id": f"00000000:{0x18 + i:02X}:00.0", "device_id": 0x232410DE, "subsystem_id": 0x17A610DE},
                "memory_total_bytes": 85899345920,
                "nvlinks": [
                    {"link": link, "state": "active", "version": 4, "speed_mbps": 26562,
                     "remote_device_type": "switch", "remote_pci_bus_id": "00000000:05:00.0"}
                    for link in range(8)
                ],
            }
            for i in range(gpus)
        ]
    }
    return {
        "schema": protocol.SCHEMA_ID,
        "report_id": str(uuid.uuid4()),
        "agent_id": agent_id,
        "sequence": sequence,
        "collected_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "synthetic": synthetic,
        "agent": {"version": "test", "backend": "fake", "dropped_reports": 0},
        "host": {"hostname": "gpu-node-01", "machine_id": "a" * 32, "boot_id": "b" * 32,
                 "driver_version": "550.54.15", "nvml_version": "12.550.54.15"},
        "nvml_status": {"ok": True},
        "identity_sha256": protocol.identity_sha256(identity),
        "identity": identity,
        "telemetry": {"gpus": [{"uuid": g["uuid"], "power_draw_mw": 350000, "utilization_pct": {"gpu": 97, "memory": 60}}
                               for g in identity["gpus"]]},
    }


def lean(report: dict) -> dict:
    """The same report without its identity section (hash only)."""
    out = copy.deepcopy(report)
    out.pop("identity", None)
    return out


def signed_post(client, report: dict, key, *, agent_id: str | None = None, body: bytes | None = None):
    """POST a report the way the agent does: canonical body, id and signature headers."""
    headers = {
        "HTTP_X_CHIPWATCH_AGENT": agent_id or report.get("agent_id", ""),
        "HTTP_X_CHIPWATCH_SIGNATURE": protocol.sign(key, report),
    }
    return client.post("/api/v1/reports", data=body if body is not None else protocol.canonical_json(report),
                       content_type="application/json", **headers)
