"""Reads: a GPU's reported vs attested facts, and how much of a cluster's controlled compute is attested."""
from __future__ import annotations

from datetime import datetime

from .models import AttestationRecord


def _summary(record: AttestationRecord | None) -> dict | None:
    if record is None:
        return None
    cross = record.cross_check or {}
    return {
        "record_id": record.id, "verified_at": record.verified_at.isoformat(), "chip": record.chip,
        "agrees_with_nvml": not cross.get("mismatches"), "mismatches": cross.get("mismatches", []),
        "facts": cross.get("facts", []), "sku": cross.get("sku"),
        "device_certificate_serial": record.binds.get("device_certificate_serial"),
        "measurements": record.measurements.get("status"), "synthetic": record.synthetic,
    }


def gpu_attestation(*, gpu) -> dict:
    """The latest verified record (what is attested now) and the latest attempt, whatever its outcome."""
    records = AttestationRecord.objects.filter(gpu=gpu)
    verified = records.filter(verified=True).first()
    latest = records.first()
    return {
        "gpu_id": gpu.id, "uuid": gpu.uuid,
        "reported": {"name": gpu.name, "pci_device_id": gpu.pci_device_id, "vbios_version": gpu.vbios_version,
                     "driver_version": gpu.host.driver_version if gpu.host_id else None, "provenance": "reported"},
        "attested": _summary(verified),
        "latest_attempt": None if latest is None else {
            "record_id": latest.id, "verified": latest.verified, "verified_at": latest.verified_at.isoformat(),
            "reasons": latest.reasons, "notes": latest.notes},
    }


def attestation_as_of(*, gpu_uuids: list[str], end: datetime) -> dict[str, dict]:
    """uuid → the latest verified record's summary among those verified by `end` (records are append-only, so an
    audit as of a passed day keeps its answer)."""
    latest: dict[str, AttestationRecord] = {}
    records = (AttestationRecord.objects.filter(gpu__uuid__in=gpu_uuids, verified=True, verified_at__lte=end)
               .select_related("gpu").order_by("gpu_id", "-verified_at", "-id"))
    for record in records:
        latest.setdefault(record.gpu.uuid, record)
    return {uuid: _summary(record) for uuid, record in latest.items()}


def _controlled(determination: dict | None) -> tuple[bool | None, float | None]:
    classification = (determination or {}).get("classification")
    if not classification or classification.get("missing"):
        return None, None
    eccn = classification.get("eccn")
    return bool(eccn) and eccn != "EAR99", classification.get("tpp")


def attested_compute_share(*, inventory: list[dict], models: dict) -> dict:
    """TPP-weighted share of the controlled GPUs whose identity a verified attestation confirms (and NVML agrees).

    `inventory` rows carry catalog_model and attestation (attestation_as_of); `models` is the audit figures'
    per-model determination.  Undetermined models are counted apart, never as uncontrolled."""
    controlled_tpp = attested_tpp = 0.0
    counts = {"controlled_gpus": 0, "attested_gpus": 0, "attested_mismatching_gpus": 0, "undetermined_gpus": 0}
    for row in inventory:
        controlled, tpp = _controlled(models.get(row.get("catalog_model")))
        if controlled is None or tpp is None:
            counts["undetermined_gpus"] += 1
            continue
        if not controlled:
            continue
        counts["controlled_gpus"] += 1
        controlled_tpp += tpp
        attestation = row.get("attestation")
        if attestation and attestation["agrees_with_nvml"]:
            counts["attested_gpus"] += 1
            attested_tpp += tpp
        elif attestation:
            counts["attested_mismatching_gpus"] += 1
    return {
        **counts, "controlled_tpp": controlled_tpp, "attested_tpp": attested_tpp,
        "attested_share": round(attested_tpp / controlled_tpp, 6) if controlled_tpp else None,
        "basis": "TPP-weighted over GPUs whose model is controlled under the rule in force; attested = a verified "
                 "GPU attestation over a server nonce, received by the as-of day, agreeing with NVML "
                 "(docs/attestation.md)",
    }
