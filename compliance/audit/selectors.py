"""Reading the audit log back: chain verification."""
from __future__ import annotations

from dataclasses import dataclass

from .models import GENESIS_SHA256, AuditEvent


@dataclass(frozen=True)
class ChainReport:
    events: int
    head_seq: int
    head_sha256: str
    problem: str = ""  # empty when the chain is intact

    @property
    def intact(self) -> bool:
        return not self.problem


def audit_chain_verify(*, anchor: tuple[int, str] | None = None) -> ChainReport:
    """Walk the chain from the first event; stop at the first row edited or deleted behind its back.

    Deleting the newest rows leaves an intact, shorter chain: compare with an `anchor`
    (seq, sha256) recorded elsewhere earlier to catch that too.
    """
    expected_seq, prev_sha256, count = 1, GENESIS_SHA256, 0
    anchor_seen = anchor is None
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        if event.seq != expected_seq:
            problem = (f"row seq={expected_seq} was deleted (the chain jumps from seq={expected_seq - 1} "
                       f"to seq={event.seq})")
            return ChainReport(count, expected_seq - 1, prev_sha256, problem)
        if event.compute_sha256() != event.sha256:
            return ChainReport(count, expected_seq - 1, prev_sha256,
                               f"row seq={event.seq} (id={event.pk}) was edited: its content no longer matches "
                               f"its sha256")
        if event.prev_sha256 != prev_sha256:
            return ChainReport(count, expected_seq - 1, prev_sha256,
                               f"row seq={event.seq - 1} was edited or replaced: row seq={event.seq} recorded "
                               f"a different hash for it")
        if anchor is not None and event.seq == anchor[0]:
            if event.sha256 != anchor[1]:
                return ChainReport(count, event.seq, event.sha256,
                                   f"row seq={event.seq} differs from the anchor recorded earlier")
            anchor_seen = True
        expected_seq, prev_sha256, count = expected_seq + 1, event.sha256, count + 1
    if not anchor_seen:
        return ChainReport(count, expected_seq - 1, prev_sha256,
                           f"row seq={anchor[0]} (the anchor) was deleted: the chain ends at seq={expected_seq - 1}")
    return ChainReport(count, expected_seq - 1, prev_sha256)
