"""Verify one GPU's attestation evidence offline, for officers and third parties.

    python manage.py verify_attestation --report FILE --cert-chain FILE [--nonce HEX] [--rim FILE ...]
        [--crl FILE ...] [--as-of YYYY-MM-DD] --json

Exit status: 0 verified, 1 not verified (the reasons are printed), 2 bad input (a file missing or unreadable,
a malformed nonce).  Reads nothing from the database and needs no network: the device chain is checked against
the root pinned in compliance/attestation/roots/, RIMs against the pinned CoRIM root.
"""
from __future__ import annotations

import json
from datetime import datetime, time, timezone
from pathlib import Path

from cryptography import x509
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date

from ...rim import RimError
from ...spdm import decode_report_file
from ...verifier import offline_rims, verify_evidence


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {what} {path}: {exc.strerror}", returncode=2) from exc


def _crl(path: str) -> x509.CertificateRevocationList:
    data = _read(path, "CRL")
    try:
        return x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise CommandError(f"{path} is not a CRL: {exc}", returncode=2) from exc


class Command(BaseCommand):
    help = "Verify NVIDIA GPU attestation evidence (SPDM report + certificate chain) offline."

    def add_arguments(self, parser):
        parser.add_argument("--report", required=True, help="attestation report: raw bytes or hex text")
        parser.add_argument("--cert-chain", required=True, help="the GPU's attestation certificate chain (PEM)")
        parser.add_argument("--nonce", help="64 hex digits: the nonce the verifier issued (omitted: not checked)")
        parser.add_argument("--rim", action="append", default=[], help="a VBIOS or driver RIM (.swidtag); repeatable")
        parser.add_argument("--crl", action="append", default=[], help="a CRL (PEM or DER) of a chain CA; repeatable")
        parser.add_argument("--as-of", help="check certificate dates on this day (default: now)")
        parser.add_argument("--json", dest="as_json", action="store_true", help="print the full result as JSON")

    def handle(self, *args, report, cert_chain, nonce, rim, crl, as_of, as_json: bool, **options):
        now = datetime.now(timezone.utc)
        if as_of:
            day = parse_date(as_of)
            if day is None:
                raise CommandError(f"--as-of {as_of!r} is not YYYY-MM-DD", returncode=2)
            now = datetime.combine(day, time(12), tzinfo=timezone.utc)
        expected = None
        if nonce is not None:
            try:
                expected = bytes.fromhex(nonce)
            except ValueError:
                expected = b""
            if len(expected) != 32:
                raise CommandError("--nonce must be 64 hex digits (32 bytes)", returncode=2)
        for path in rim:
            _read(path, "RIM")
        try:
            rims = offline_rims([Path(p) for p in rim], now=now)
        except RimError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        result = verify_evidence(report=decode_report_file(_read(report, "report")),
                                 cert_chain=_read(cert_chain, "certificate chain"), now=now, expected_nonce=expected,
                                 rims=rims, crls=[_crl(p) for p in crl])
        if as_json:
            self.stdout.write(json.dumps(result.as_dict(), indent=2, sort_keys=True))
        else:
            self.stdout.write(f"{'VERIFIED' if result.verified else 'NOT VERIFIED'}: chip {result.chip or '?'}")
            for line in result.reasons:
                self.stdout.write(f"  reason: {line}")
            for line in result.notes:
                self.stdout.write(f"  note: {line}")
        if not result.verified:
            raise CommandError("attestation not verified: " + "; ".join(result.reasons), returncode=1)
