"""The agent's side, with recorded structures: a shipped NVML profile whose GPU 0 answers the confidential-computing
calls with NVIDIA's recorded Hopper evidence, collected by the agent's real collector into a signed report."""
from __future__ import annotations

import json
from importlib import resources

from chipwatch_agent import snapshot as snap
from chipwatch_agent.collector import Collector
from chipwatch_agent.nvml_fake import FakeNvml
from chipwatch_agent.report import build_report

from .evidence import sample_chain, sample_report


def _struct(kind: str, field: str, size_field: str, data: bytes) -> dict:
    return {"return": {"$struct": kind, "fields": {field: {"$hex": data.hex()}, size_field: len(data)}}}


def profile_with_sample_evidence(profile: str = "hgx-h800", *, vbios: str | None = None,
                                 driver: str | None = None) -> dict:
    """The profile's calls, GPU 0 answering attestation with NVIDIA's sample (optionally its NVML VBIOS/driver
    strings replaced, as a host that reports them honestly would)."""
    document = json.loads(resources.files("chipwatch_agent").joinpath("profiles", profile + ".json").read_text())
    calls = []
    for name, args, outcome in document["calls"]:
        handle0 = bool(args) and args[0] == {"$handle": 0}
        if handle0 and name == "nvmlDeviceGetConfComputeGpuAttestationReport":
            outcome = _struct("c_nvmlConfComputeGpuAttestationReport_t", "attestationReport", "attestationReportSize",
                              sample_report())
        elif handle0 and name == "nvmlDeviceGetConfComputeGpuCertificate":
            outcome = _struct("c_nvmlConfComputeGpuCertificate_t", "attestationCertChain", "attestationCertChainSize",
                              sample_chain())
        elif handle0 and name == "nvmlDeviceGetVbiosVersion" and vbios:
            outcome = {"return": vbios}
        elif name == "nvmlSystemGetDriverVersion" and driver:
            outcome = {"return": driver}
        calls.append([name, args, outcome])
    document["calls"] = calls
    return snap.loads(json.dumps(document).encode())


def collected_report(agent_id: str, *, nonce: bytes | None, sequence: int = 0, **profile) -> dict:
    collection = Collector(FakeNvml(profile_with_sample_evidence(**profile))).collect(nonce)
    return build_report(collection, agent_id=agent_id, sequence=sequence, backend="fake")
