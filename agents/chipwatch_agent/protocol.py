"""The wire contract shared by the agent and the server: report format v1.

Both sides import this module so that the canonical serialization, the identity
hash and the signature check can never drift apart.  It depends only on the
standard library and `cryptography` (no Django), because it ships in the agent.
"""
from __future__ import annotations

import base64
import hashlib
import json
from importlib import resources
from typing import Any

SCHEMA_ID = "chipwatch.report/v1"

# HTTP headers that carry the agent's identity and its signature of the body.
AGENT_ID_HEADER = "X-Chipwatch-Agent"
SIGNATURE_HEADER = "X-Chipwatch-Signature"

# A lean report omits `identity` and sends only its hash; the server answers
# this status (with error code IDENTITY_UNKNOWN) when it does not know the hash,
# and the agent resends the report in full.
IDENTITY_UNKNOWN_STATUS = 428
IDENTITY_UNKNOWN = "identity_unknown"


def canonical_json(value: Any) -> bytes:
    """The one serialization that is signed and hashed: sorted keys, no spaces, UTF-8.

    NaN and Infinity are refused: they are not JSON, and a value that cannot be
    written back identically cannot be signed.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def identity_sha256(identity: dict) -> str:
    """Hash of the identity section, so an unchanged identity can be sent as 32 bytes."""
    return sha256_hex(canonical_json(identity))


def load_schema() -> dict:
    """The JSON Schema (draft 2020-12) of report format v1, shipped inside the package."""
    text = resources.files("chipwatch_agent").joinpath("schema/report-v1.json").read_text("utf-8")
    return json.loads(text)


def sign(private_key, report: dict) -> str:
    """Ed25519 signature of the canonical report, base64 (standard alphabet)."""
    return base64.b64encode(private_key.sign(canonical_json(report))).decode("ascii")


def verify(public_key_b64: str, report: dict, signature_b64: str) -> bool:
    """True when `signature_b64` is the agent key's signature of the canonical report."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        key.verify(base64.b64decode(signature_b64, validate=True), canonical_json(report))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def public_key_b64(private_key) -> str:
    """Raw 32-byte Ed25519 public key, base64: the form enrollment registers."""
    from cryptography.hazmat.primitives import serialization

    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode("ascii")
