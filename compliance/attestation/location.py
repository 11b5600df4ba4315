"""What a location measurement rests on: the agent's key (host-signed) or an attested GPU's key (GPU-attested).

A landmark times rounds; each round's answer carries the agent's signature of the round nonce and, where the GPU is
in CC mode, the GPU's attestation report over that same nonce (agents/chipwatch_agent/challenge.py).  When that
report verifies with the key of a GPU this server has already attested on the same host, the GPU itself answered,
so the light-speed bound of the round applies to the GPU, not only to whichever host relayed it
(docs/location-verification.md).
"""
from __future__ import annotations

import base64
import binascii

from .models import AttestationRecord
from .verifier import verify_evidence

GPU_ATTESTED = "GPU-attested"
HOST_SIGNED = "host-signed"


def _fastest_round(measurement) -> dict | None:
    rounds = [r for r in measurement.rounds if isinstance(r, dict)]
    return min(rounds, key=lambda r: r.get("rtt_ms", float("inf")), default=None)


def measurement_proof(measurement) -> dict:
    """The proof behind the measurement's bound (its fastest round), with the reason when it is the host's only."""
    fastest = _fastest_round(measurement)
    evidence = (fastest or {}).get("gpu_evidence") or {}
    if not isinstance(evidence.get("report_b64"), str):
        return {"measurement_id": measurement.id, "proof": HOST_SIGNED, "reason": "no GPU evidence in the round"}
    if evidence.get("synthetic", True):
        return {"measurement_id": measurement.id, "proof": HOST_SIGNED, "reason": "synthetic evidence (fake NVML)"}
    record = (AttestationRecord.objects.filter(host_id=measurement.host_id, verified=True,
                                               gpu__index=evidence.get("gpu_index"))
              .exclude(certificate_chain="").first())
    if record is None:
        return {"measurement_id": measurement.id, "proof": HOST_SIGNED,
                "reason": f"GPU {evidence.get('gpu_index')} of this host has no verified attestation to check against"}
    try:
        report = base64.b64decode(evidence["report_b64"], validate=True)
        nonce = bytes.fromhex(fastest["nonce"])
    except (binascii.Error, ValueError, KeyError):
        return {"measurement_id": measurement.id, "proof": HOST_SIGNED, "reason": "unreadable GPU evidence"}
    result = verify_evidence(report=report, cert_chain=record.certificate_chain.encode("ascii"),
                             now=measurement.verified_at, expected_nonce=nonce)
    if not result.verified:
        return {"measurement_id": measurement.id, "proof": HOST_SIGNED, "reason": "; ".join(result.reasons)}
    return {"measurement_id": measurement.id, "proof": GPU_ATTESTED, "gpu_id": record.gpu_id,
            "attestation_record_id": record.id,
            "device_certificate_serial": result.binds.get("device_certificate_serial")}


def location_proof(measurements) -> dict:
    """GPU-attested only when every landmark's bound is; otherwise the region bounds the agent key's holder."""
    proofs = [measurement_proof(m) for m in measurements]
    kinds = {p["proof"] for p in proofs}
    basis = GPU_ATTESTED if kinds == {GPU_ATTESTED} else (HOST_SIGNED if GPU_ATTESTED not in kinds else "mixed")
    return {"basis": basis, "measurements": proofs}
