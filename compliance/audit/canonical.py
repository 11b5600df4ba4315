"""The one byte form that chipwatch hashes: audit events and audit reports.

Sorted keys, no spaces, UTF-8, no NaN; dates, decimals and UUIDs as strings.  The same
value always gives the same bytes, so the same hash.
"""
import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID


def _jsonable(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} has no canonical JSON form")


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                      default=_jsonable).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
