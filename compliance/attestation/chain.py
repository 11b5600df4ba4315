"""Certificate chains checked offline up to a pinned root: issuer by issuer, validity dates, CA constraints,
and revocation where a CRL is at hand.  Pure (no Django).

NVIDIA's local verifier does the same walk with OpenSSL's X509Store (verifier/cc_admin_utils.py,
verify_certificate_chain) and asks NVIDIA's OCSP responder (ocsp.ndis.nvidia.com) for revocation.  An offline
server cannot ask OCSP; it checks the CRLs it is given and says so when it has none.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes


@dataclass(frozen=True)
class ChainResult:
    problems: tuple[str, ...]  # "code: detail", empty when the chain holds
    notes: tuple[str, ...]


def load_pem_chain(data: bytes) -> list[x509.Certificate]:
    """Certificates in file order (NVIDIA's chains: leaf first, root last)."""
    return x509.load_pem_x509_certificates(data)


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _name(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string()


def verify_chain(chain: list[x509.Certificate], *, roots: list[x509.Certificate], now: datetime,
                 crls: list[x509.CertificateRevocationList] = (), what: str = "device") -> ChainResult:
    """Every certificate issued by the next, all valid at `now`, the last one a pinned root or issued by one."""
    problems: list[str] = []
    notes: list[str] = []
    if not chain:
        return ChainResult((f"{what}_chain_empty: no certificates",), ())
    pinned = {fingerprint(root): root for root in roots}
    path = list(chain)
    if fingerprint(path[-1]) not in pinned:
        anchor = next((root for root in roots if _issued_by(path[-1], root)), None)
        if anchor is None:
            problems.append(f"{what}_chain_untrusted_root: the chain ends at {_name(path[-1])!r} "
                            f"(SHA-256 {fingerprint(path[-1])[:16]}…), which is not a pinned NVIDIA root "
                            "and not issued by one")
        else:
            path.append(anchor)
    for position, certificate in enumerate(path):
        label = "leaf" if position == 0 else f"certificate {position}"
        if certificate.not_valid_after_utc < now:
            problems.append(f"{what}_certificate_expired: {label} {_name(certificate)!r} expired "
                            f"{certificate.not_valid_after_utc.isoformat()}")
        if certificate.not_valid_before_utc > now:
            problems.append(f"{what}_certificate_not_yet_valid: {label} {_name(certificate)!r} valid only from "
                            f"{certificate.not_valid_before_utc.isoformat()}")
        if position + 1 < len(path):
            issuer = path[position + 1]
            if not _issued_by(certificate, issuer):
                problems.append(f"{what}_chain_broken: {label} {_name(certificate)!r} is not signed by "
                                f"{_name(issuer)!r}")
            elif not _is_ca(issuer):
                problems.append(f"{what}_chain_issuer_not_ca: {_name(issuer)!r} signs {label} without being a CA")
    problems.extend(_revocations(path, crls, now, what))
    if not crls:
        notes.append(f"{what}_revocation_not_checked: no CRL given; NVIDIA publishes revocation by OCSP "
                     "(ocsp.ndis.nvidia.com), which an offline check cannot ask")
    return ChainResult(tuple(problems), tuple(notes))


def _revocations(path: list[x509.Certificate], crls, now: datetime, what: str) -> list[str]:
    problems = []
    for position, certificate in enumerate(path[:-1]):
        issuer = path[position + 1]
        for crl in crls:
            if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer.public_key()):
                continue
            if crl.next_update_utc is not None and crl.next_update_utc < now:
                problems.append(f"{what}_crl_stale: the CRL of {_name(issuer)!r} was due for renewal "
                                f"{crl.next_update_utc.isoformat()}")
            revoked = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
            if revoked is not None:
                label = "leaf" if position == 0 else f"certificate {position}"
                problems.append(f"{what}_certificate_revoked: {label} {_name(certificate)!r} (serial "
                                f"{certificate.serial_number:x}) revoked {revoked.revocation_date_utc.isoformat()}")
    return problems
