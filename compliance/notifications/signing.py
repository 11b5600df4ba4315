"""The webhook signature: HMAC-SHA256 over "<timestamp>.<body>", as docs/notifications.md tells receivers to check.

Pure standard library, so a receiver can copy `signature_verify` as it is.
"""
from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}={digest}"


def signature_verify(secret: str, timestamp: str, body: bytes, header: str, *, now: float | None = None,
                     tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """True only for our signature over these exact bytes, signed within `tolerance` seconds (no replays)."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(signature(secret, timestamp, body), header)
