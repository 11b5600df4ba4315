"""Verify one GPU's attestation evidence offline: what it proves, what it binds, and why it fails.

Pure (no Django).  The checks follow NVIDIA's local verifier (nv-local-gpu-verifier 2.7.3, verifier/config.py
EXECUTION_SEQUENCE_INDEX), without its network steps: the certificate chain up to the pinned device identity
root, the nonce in the signed request equal to the server's, the firmware ID in the report equal to the one the
attestation certificate names, the ECDSA P-384 signature with that certificate's key, and the measurements against
the golden values of NVIDIA's signed RIMs when the RIMs for the measured VBIOS and driver are at hand.
"""
from __future__ import annotations

import hmac
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import NameOID

from . import rim as rims_
from . import spdm
from .chain import fingerprint, load_pem_chain, verify_chain

DEVICE_ROOT_FILE = "nvidia_device_identity_ca.pem"
RIM_ROOT_FILE = "nvidia_corim_signing_root_ca.pem"
# TCG DICE FWID extension in the attestation certificate; on Hopper its last 48 bytes are the FWID the report
# carries (verifier/cc_admin_utils.py extract_fwid).
TCG_DICE_FWID = ("2.23.133.5.4.1", "2.23.133.5.4.1.1")
FWID_LENGTH = 48
CHIP = re.compile(r"\b(G[A-Z]{1,2}\d{3})\b")


def pinned_root(filename: str) -> x509.Certificate:
    """A root shipped in compliance/attestation/roots/ (see its README for source and SHA-256)."""
    return x509.load_pem_x509_certificate(resources.files(__package__).joinpath("roots", filename).read_bytes())


@dataclass(frozen=True)
class Verification:
    verified: bool
    chip: str | None  # the die family the certificate chain names, e.g. "GH100": never a SKU by itself
    reasons: list[str]  # "code: detail" for each failed check; empty when verified
    notes: list[str]  # what was not checked, and why
    binds: dict  # what the signed evidence ties together
    measurements: dict  # {"status": "match" | "mismatch" | "unchecked", "rims": [...]}
    nonce_checked: bool = field(default=False)

    def as_dict(self) -> dict:
        return asdict(self)


def _leaf_fwid(leaf: x509.Certificate) -> bytes | None:
    for extension in leaf.extensions:
        if extension.oid.dotted_string in TCG_DICE_FWID:
            return extension.value.value[-FWID_LENGTH:]
    return None


def _subject(certificate: x509.Certificate, oid) -> str | None:
    values = certificate.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _chip(chain: list[x509.Certificate]) -> str | None:
    for certificate in chain:
        match = CHIP.search(_subject(certificate, NameOID.COMMON_NAME) or "")
        if match:
            return match.group(1)
    return None


def _signature_valid(report: spdm.AttestationReport, leaf: x509.Certificate) -> str | None:
    key = leaf.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
        return "signature_key_unsupported: the attestation certificate's key is not ECDSA P-384"
    half = spdm.SIGNATURE_LENGTH // 2
    der = utils.encode_dss_signature(int.from_bytes(report.signature[:half], "big"),
                                     int.from_bytes(report.signature[half:], "big"))
    try:
        key.verify(der, report.signed_bytes, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        return ("signature_invalid: the report's ECDSA P-384 signature does not verify with the attestation "
                "certificate's key (altered report, or another GPU's certificate)")
    return None


def _binds(report: spdm.AttestationReport, leaf: x509.Certificate | None) -> dict:
    fwid = report.opaque.get("fwid")
    return {
        "nonce": report.nonce.hex(),
        "device_certificate_serial": format(leaf.serial_number, "x") if leaf else None,
        "device_certificate_subject_serial": _subject(leaf, NameOID.SERIAL_NUMBER) if leaf else None,
        "device_certificate_sha256": fingerprint(leaf) if leaf else None,
        "fwid": fwid.hex() if fwid else None,
        "vbios_version": report.vbios_version,
        "driver_version": report.text("driver_version"),
        "board_id": report.board_id,
        "project": report.text("project"),
        "project_sku": report.text("project_sku"),
        "project_sku_mod": report.text("project_sku_mod"),
        "chip_sku": report.text("chip_sku"),
        "chip_sku_mod": report.text("chip_sku_mod"),
    }


def _measurements(report: spdm.AttestationReport, rims: list[rims_.Rim]) -> tuple[dict, list[str], list[str]]:
    """Pick the RIM for the measured VBIOS and the one for the measured driver; compare where both are trusted."""
    wanted = {"vbios": (report.vbios_version or "").upper(), "driver": (report.text("driver_version") or "").upper()}
    chosen: dict[str, rims_.Rim] = {}
    notes: list[str] = []
    for candidate in rims:
        if candidate.version.upper() != wanted[candidate.kind]:
            continue
        if candidate.trusted:
            chosen[candidate.kind] = candidate
        else:
            notes.extend(f"rim_not_used: {problem}" for problem in candidate.problems)
    for kind in ("vbios", "driver"):
        if kind not in chosen:
            notes.append(f"{kind}_rim_unavailable: no trusted RIM for the measured {kind} "
                         f"{wanted[kind] or '(not in the report)'} is available offline; its measurements are "
                         "not compared with golden values")
    skip = frozenset({spdm.NVDEC_MEASUREMENT_INDEX}) if report.opaque.get("nvdec0_status") == spdm.NVDEC0_DISABLED \
        else frozenset()
    problems = rims_.compare(list(chosen.values()), report.measurements, skip_indexes=skip)
    status = "unchecked" if not chosen else ("mismatch" if problems else "match")
    summary = {"status": status, "compared": sorted(chosen), "rims": [r.name for r in chosen.values()]}
    return summary, problems, notes


def verify_evidence(*, report: bytes, cert_chain: bytes, now: datetime, expected_nonce: bytes | None = None,
                    roots: list[x509.Certificate] | None = None, rims: list[rims_.Rim] = (),
                    crls: list[x509.CertificateRevocationList] = ()) -> Verification:
    """Check one GPU's evidence; never raises for bad evidence (a malformed input is a reason, not a crash)."""
    roots = roots if roots is not None else [pinned_root(DEVICE_ROOT_FILE)]
    reasons: list[str] = []
    notes: list[str] = []
    try:
        chain = load_pem_chain(cert_chain)
    except ValueError as exc:
        chain = []
        reasons.append(f"certificate_chain_unreadable: {exc}")
    try:
        parsed = spdm.parse_report(report)
    except spdm.ReportFormatError as exc:
        reasons.append(f"report_malformed: {exc}")
        return Verification(False, _chip(chain), reasons, notes, {}, {"status": "unchecked", "rims": []})
    leaf = chain[0] if chain else None
    if chain:
        result = verify_chain(chain, roots=roots, now=now, crls=crls, what="device")
        reasons.extend(result.problems)
        notes.extend(result.notes)
    if expected_nonce is None:
        notes.append("nonce_not_checked: no server nonce given; the evidence may be a replay of an old answer")
    elif not hmac.compare_digest(parsed.nonce, expected_nonce):
        reasons.append(f"nonce_mismatch: the report answers nonce {parsed.nonce.hex()}, "
                       f"not the server's {expected_nonce.hex()}")
    if leaf is not None:
        problem = _signature_valid(parsed, leaf)
        if problem:
            reasons.append(problem)
        cert_fwid, report_fwid = _leaf_fwid(leaf), parsed.opaque.get("fwid")
        if report_fwid and cert_fwid is not None and not hmac.compare_digest(cert_fwid, report_fwid):
            reasons.append("fwid_mismatch: the firmware ID in the report differs from the one in the attestation "
                           "certificate")
    measurements, mismatches, rim_notes = _measurements(parsed, list(rims))
    reasons.extend(mismatches)
    notes.extend(rim_notes)
    return Verification(verified=not reasons, chip=_chip(chain), reasons=reasons, notes=notes,
                        binds=_binds(parsed, leaf), measurements=measurements,
                        nonce_checked=expected_nonce is not None)


def offline_rims(paths: list[Path], *, now: datetime) -> list[rims_.Rim]:
    """RIM files from disk, each checked against the pinned CoRIM root; unreadable files raise RimError."""
    root = pinned_root(RIM_ROOT_FILE)
    return [rims_.load_rim(Path(path).read_bytes(), name=Path(path).name, roots=[root], now=now) for path in paths]
