"""Hosts that report through the real ingest service, for the batch-evaluation tests and
bench/evaluate.py: each host has GPU UUIDs and serials of its own (no duplicate-identity
findings), and its identity can be swapped between two consistent parts (H800 ↔ H100 SXM)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from chipwatch_agent import protocol
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from inventory.services.enrollment import agent_enroll, enrollment_secret_create
from inventory.services.ingest import report_ingest

# (NVML name, PCI device id with vendor, active NVLink4 links): what each part reports (NVIDIA datasheets).
H800 = ("NVIDIA H800", 0x232410DE, 8)
H100 = ("NVIDIA H100 80GB HBM3", 0x233010DE, 18)


@dataclass
class FleetHost:
    number: int
    agent_id: str
    host_id: int
    key: Ed25519PrivateKey
    sequence: int = 0


def enroll(*, cluster, count: int, first_number: int = 0) -> list[FleetHost]:
    _, secret = enrollment_secret_create(label=f"fleet-{cluster.pk}-{first_number}", cluster=cluster)
    hosts = []
    for number in range(first_number, first_number + count):
        key = Ed25519PrivateKey.generate()
        agent = agent_enroll(secret=secret, public_key=protocol.public_key_b64(key),
                             hostname=f"node-{number:05d}", machine_id=f"{number:032x}")
        hosts.append(FleetHost(number, str(agent.id), agent.host_id, key))
    return hosts


def identity(host: FleetHost, part=H800, gpus: int = 8) -> dict:
    name, device_id, links = part
    return {"gpus": [{
        "index": i, "uuid": f"GPU-{host.number:08x}-0000-4000-8000-{i:012d}", "name": name,
        "serial": f"{host.number:08d}{i:05d}",
        "pci": {"bus_id": f"00000000:{0x18 + i:02X}:00.0", "device_id": device_id, "subsystem_id": 0x17A610DE},
        "memory_total_bytes": 85899345920,
        "nvlinks": [{"link": link, "state": "active", "version": 4, "speed_mbps": 26562,
                     "remote_device_type": "switch", "remote_pci_bus_id": "00000000:05:00.0"} for link in range(links)],
    } for i in range(gpus)]}


def report(host: FleetHost, *, part=H800, full: bool = True) -> dict:
    """The host's next report (full or lean) about `part`."""
    section = identity(host, part)
    body = {
        "schema": protocol.SCHEMA_ID, "report_id": str(uuid.uuid4()), "agent_id": host.agent_id,
        "sequence": host.sequence,
        "collected_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "synthetic": True, "agent": {"version": "test", "backend": "fake", "dropped_reports": 0},
        "host": {"hostname": f"node-{host.number:05d}", "machine_id": f"{host.number:032x}", "boot_id": "b" * 32,
                 "driver_version": "550.54.15", "nvml_version": "12.550.54.15"},
        "nvml_status": {"ok": True},
        "identity_sha256": protocol.identity_sha256(section),
        "telemetry": {"gpus": [{"uuid": g["uuid"], "power_draw_mw": 350000, "utilization_pct": {"gpu": 60, "memory": 40}}
                               for g in section["gpus"]]},
    }
    if full:
        body["identity"] = section
    host.sequence += 1
    return body


def send(host: FleetHost, body: dict) -> None:
    """Through the ingest service, as the API view calls it (signature over the canonical body)."""
    result = report_ingest(agent_id=host.agent_id, signature=protocol.sign(host.key, body),
                           body=protocol.canonical_json(body))
    assert result.status == "stored", result
