"""Writes for GPU attestation: issue nonces, verify the evidence a report carries, record it, cross-check it.

Keyword-only functions, each one transaction.  A nonce is spent by the first report that answers it (all GPUs of
that report may sign it); evidence over a nonce this server did not issue to that agent, or issued but expired or
spent, is recorded as unverified with its reason and never makes a fact attested.
"""
from __future__ import annotations

import base64
import binascii
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from chipwatch_agent import protocol
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from compliance.findings import FindingSpec, finding_raise
from compliance.models import Finding
from config.parsers import json_loads
from inventory.models import Agent, Gpu, Observation

from . import crosscheck
from .models import AttestationNonce, AttestationRecord
from .verifier import offline_rims, verify_evidence

log = logging.getLogger(__name__)

IDENTITY_CITATION = ("15 CFR part 732 Supp. No. 3 (red flags: product capabilities not matching the description); "
                     "87 FR 62186 / 88 FR 73458, 3A090.a; GPU attestation per docs/attestation.md")
MAX_REQUEST_BYTES = 4096


class AttestationError(Exception):
    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def nonce_ttl() -> timedelta:
    return timedelta(seconds=settings.CHIPWATCH_ATTESTATION_NONCE_TTL_S)


def attestation_nonce_issue(*, agent: Agent, now: datetime | None = None) -> AttestationNonce:
    """A fresh 32-byte nonce for this agent, or the one it holds that is still unspent and unexpired
    (asking twice does not pile up nonces)."""
    now = now or timezone.now()
    with transaction.atomic():
        Agent.objects.select_for_update().filter(pk=agent.pk).first()  # one issuer per agent at a time
        held = (AttestationNonce.objects.filter(agent=agent, consumed_at__isnull=True, expires_at__gt=now)
                .order_by("-expires_at").first())
        if held is not None:
            return held
        return AttestationNonce.objects.create(nonce=secrets.token_bytes(32).hex(), agent=agent, issued_at=now,
                                               expires_at=now + nonce_ttl())


def attestation_nonce_request(*, agent_id: str, signature: str, body: bytes) -> AttestationNonce:
    """An agent's signed request for a nonce: {"agent_id", "requested_at"} in canonical JSON, signed like a report."""
    if len(body) > MAX_REQUEST_BYTES:
        raise AttestationError(413, "too_large", f"request body over {MAX_REQUEST_BYTES} bytes")
    try:
        payload = json_loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AttestationError(400, "invalid_json", f"the body is not JSON: {str(exc)[:200]}") from None
    if not isinstance(payload, dict) or payload.get("agent_id") != agent_id:
        raise AttestationError(400, "agent_mismatch", "the body's agent_id must be the authenticating agent")
    try:
        agent = Agent.objects.filter(pk=uuid.UUID(agent_id)).first()
    except (ValueError, TypeError):
        agent = None
    if agent is None:
        raise AttestationError(401, "unknown_agent", f"no enrolled agent {agent_id!r}")
    if not signature or not protocol.verify(agent.public_key, payload, signature):
        raise AttestationError(401, "bad_signature", "signature does not verify against the enrolled key")
    if agent.revoked_at is not None:
        raise AttestationError(403, "agent_revoked", f"agent key revoked at {agent.revoked_at.isoformat()}")
    return attestation_nonce_issue(agent=agent)


# --- verifying what a report carries ------------------------------------------------------------


@dataclass(frozen=True)
class _NonceCheck:
    issued: bool
    problem: str | None
    row: AttestationNonce | None


def _nonce_check(observation: Observation, value: str) -> _NonceCheck:
    row = AttestationNonce.objects.select_for_update().filter(nonce=value).first()
    if row is None or row.agent_id != observation.agent_id:
        return _NonceCheck(False, f"nonce_not_issued: {value[:16]}… was not issued by this server to this agent",
                           None)
    if row.consumed_by_id not in (None, observation.id):
        return _NonceCheck(False, f"nonce_already_used: spent at {row.consumed_at.isoformat()} by observation "
                                  f"{row.consumed_by_id}", row)
    if observation.received_at > row.expires_at:
        return _NonceCheck(False, f"nonce_expired: expired {row.expires_at.isoformat()}, report received "
                                  f"{observation.received_at.isoformat()}", row)
    return _NonceCheck(True, None, row)


def _nonce_bytes(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        return b""


def _decoded(entry: dict, key: str) -> bytes | None:
    value = entry.get(key)
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


@lru_cache(maxsize=1)
def _boards(path: str) -> dict:
    return crosscheck.load_boards(path)


def board_table() -> dict:
    return _boards(str(settings.CHIPWATCH_ATTESTATION_BOARDS_FILE or crosscheck.DEFAULT_BOARDS))


def _rims(now: datetime) -> list:
    directory = settings.CHIPWATCH_ATTESTATION_RIM_DIR
    if not directory:
        return []
    return offline_rims(sorted(Path(directory).glob("*.swidtag")), now=now)


def _gpu_for(observation: Observation, entry: dict) -> Gpu | None:
    gpus = Gpu.objects.filter(host_id=observation.host_id)
    return (gpus.filter(uuid=entry.get("uuid")).first()
            or (gpus.filter(index=entry["index"]).first() if isinstance(entry.get("index"), int) else None))


def observation_attestations_verify(*, observation_id: int, now: datetime | None = None) -> list[AttestationRecord]:
    """Verify every GPU's evidence in one stored report (idempotent: a report is verified once)."""
    now = now or timezone.now()
    with transaction.atomic():
        observation = Observation.objects.select_related("host").get(pk=observation_id)
        if AttestationRecord.objects.filter(observation=observation).exists():
            return list(AttestationRecord.objects.filter(observation=observation))
        entries = [e for e in observation.payload.get("attestation") or []
                   if isinstance(e, dict) and "report_b64" in e and isinstance(e.get("report_b64"), str)]
        rims = _rims(now) if entries else []
        records = []
        for entry in entries:
            gpu = _gpu_for(observation, entry)
            if gpu is None:
                log.warning("observation %s: attestation for unknown GPU %r skipped", observation.id, entry.get("uuid"))
                continue
            records.append(_record(observation, gpu, entry, rims, now))
        return records


def observations_pending_attestation(*, older_than_seconds: float, within: timedelta = timedelta(days=1),
                                     now: datetime | None = None) -> list[int]:
    """Stored reports carrying evidence that no verification has recorded yet (their task was lost with Redis, or
    its worker died): the database, not the queue, holds this pending work.  Younger ones still have their task."""
    now = now or timezone.now()
    return list(Observation.objects.filter(received_at__gte=now - within,
                                           received_at__lte=now - timedelta(seconds=older_than_seconds),
                                           payload__has_key="attestation")
                .exclude(pk__in=AttestationRecord.objects.values("observation_id"))
                .order_by("id").values_list("id", flat=True)[:1000])


# What the fake NVML profiles answer in CC mode (agents/tools/make_profiles.py): a placeholder, not a GPU signature.
STAND_IN_EVIDENCE = b"FAKE-SPDM-MEASUREMENTS"


def _record(observation: Observation, gpu: Gpu, entry: dict, rims: list, now: datetime) -> AttestationRecord:
    nonce_value = str(entry.get("nonce", ""))
    check = _nonce_check(observation, nonce_value)
    report, chain = _decoded(entry, "report_b64") or b"", _decoded(entry, "certificate_chain_b64") or b""
    verification = verify_evidence(report=report, cert_chain=chain, now=now, expected_nonce=_nonce_bytes(nonce_value),
                                   rims=rims)
    reasons = ([check.problem] if check.problem else []) + verification.reasons
    # A simulated host's placeholder cannot verify and proves nothing either way: recorded as such, no finding.
    # Production refuses synthetic reports outright (CHIPWATCH_ACCEPT_SYNTHETIC), so only demos and tests get here.
    stand_in = bool(observation.payload.get("synthetic")) and report.startswith(STAND_IN_EVIDENCE)
    if stand_in:
        reasons = ["synthetic_stand_in: the fake NVML backend's placeholder evidence, not signed by a GPU"] + reasons
    verified = check.issued and verification.verified
    cross = {}
    if verified:
        reported = crosscheck.Reported(name=gpu.name, pci_device_id=gpu.pci_device_id, vbios_version=gpu.vbios_version,
                                       driver_version=observation.host.driver_version)
        cross = crosscheck.cross_check(chip=verification.chip, binds=verification.binds, reported=reported,
                                       boards=board_table())
    record = AttestationRecord.objects.create(
        gpu=gpu, host=observation.host, observation=observation, nonce=nonce_value, nonce_issued=check.issued,
        verified=verified, chip=verification.chip or "", reasons=reasons, notes=verification.notes,
        binds=verification.binds, measurements=verification.measurements, cross_check=cross,
        report_sha256=protocol.sha256_hex(report), certificate_chain=chain.decode("ascii", "replace"),
        synthetic=bool(observation.payload.get("synthetic")),
        verified_at=now,
    )
    if check.row is not None and check.issued and check.row.consumed_at is None:
        check.row.consumed_at, check.row.consumed_by = now, observation
        check.row.save(update_fields=["consumed_at", "consumed_by"])
    if not stand_in:
        _findings(record, gpu, observation)
    return record


def _findings(record: AttestationRecord, gpu: Gpu, observation: Observation) -> None:
    cluster = observation.host.cluster
    common = dict(subject_type=Finding.Subject.GPU, subject_id=gpu.id, observation_ids=(observation.id,),
                  cluster_id=cluster.id if cluster else None,
                  organization_id=cluster.operator_id if cluster else None)
    evidence = {"attestation_record_id": record.id, "nonce": record.nonce, "report_sha256": record.report_sha256,
                "device_certificate_serial": record.binds.get("device_certificate_serial"),
                "chip": record.chip}
    mismatches = record.cross_check.get("mismatches", [])
    if record.verified and mismatches:
        facts = [f for f in record.cross_check["facts"] if f["fact"] in mismatches]
        title = "; ".join(f"{f['fact']}: reported {f['reported']!r}, attested {f['attested']!r}" for f in facts)
        finding_raise(spec=FindingSpec(
            kind="attested_identity_mismatch", severity=Finding.Severity.CRITICAL,
            dedup_key=f"attested_identity_mismatch:gpu:{gpu.id}",
            title=f"GPU {gpu.uuid}: NVML disagrees with the GPU's signed attestation ({title})",
            citation=IDENTITY_CITATION, figures={**evidence, "mismatches": facts}, **common))
    elif not record.verified and record.nonce_issued:
        finding_raise(spec=FindingSpec(
            kind="attestation_failed", severity=Finding.Severity.HIGH,
            dedup_key=f"attestation_failed:gpu:{gpu.id}",
            title=f"GPU {gpu.uuid}: attestation evidence over our nonce did not verify ({record.reasons[0][:120]})",
            citation=IDENTITY_CITATION, figures={**evidence, "reasons": record.reasons}, **common))
