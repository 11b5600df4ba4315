"""On-disk spool: every report is on disk before it is sent, and leaves only when acknowledged.

One file per report, named by its zero-padded sequence so that a directory
listing is the send order.  Files are written atomically (see state.write_atomic),
so a crash leaves whole reports or none.  The spool is bounded by file count and
bytes; when full, the *oldest* reports are dropped and the caller is told how
many, so the next report can say so.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List

from . import protocol
from .state import ensure_private_dir, fsync_dir, write_atomic

log = logging.getLogger("chipwatch_agent")

REJECTED = "rejected"


class SpoolError(Exception):
    """The spool cannot be written (read-only, full disk, permissions)."""


@dataclass(frozen=True)
class SpoolEntry:
    path: Path
    sequence: int
    size: int


def _entry_name(report: dict) -> str:
    return f"{report['sequence']:016d}-{report['report_id']}.json"


class Spool:
    def __init__(self, directory: Path, max_files: int, max_bytes: int):
        self.directory = Path(directory)
        self.max_files = max_files
        self.max_bytes = max_bytes

    def entries(self) -> List[SpoolEntry]:
        """Pending reports, oldest (lowest sequence) first."""
        try:
            names = os.listdir(self.directory)
        except OSError:  # missing or unusable; put() reports why
            return []
        entries = []
        for name in names:
            if name.startswith(".") or not name.endswith(".json"):
                continue
            try:
                sequence = int(name.split("-", 1)[0])
                size = (self.directory / name).stat().st_size
            except (ValueError, OSError):
                continue
            entries.append(SpoolEntry(self.directory / name, sequence, size))
        entries.sort(key=lambda entry: entry.sequence)
        return entries

    def put(self, report: dict) -> int:
        """Store a report; returns how many old reports had to be dropped to stay in bounds."""
        try:
            ensure_private_dir(self.directory)
            write_atomic(self.directory / _entry_name(report), protocol.canonical_json(report))
        except OSError as exc:
            raise SpoolError(f"cannot write to spool {self.directory}: {exc}") from exc
        return self._enforce_bounds()

    def _enforce_bounds(self) -> int:
        entries = self.entries()
        total = sum(entry.size for entry in entries)
        dropped = 0
        while len(entries) > 1 and (len(entries) > self.max_files or total > self.max_bytes):
            oldest = entries.pop(0)
            try:
                oldest.path.unlink()
            except FileNotFoundError:
                pass
            total -= oldest.size
            dropped += 1
            log.warning("spool full: dropped report sequence %d", oldest.sequence)
        return dropped

    @staticmethod
    def read(entry: SpoolEntry) -> dict:
        return json.loads(entry.path.read_bytes())

    def remove(self, entry: SpoolEntry) -> None:
        try:
            entry.path.unlink()
        except FileNotFoundError:
            return
        fsync_dir(self.directory)

    def reject(self, entry: SpoolEntry) -> None:
        """Keep a report the server refused for good out of the send queue, for inspection."""
        rejected = self.directory / REJECTED
        ensure_private_dir(rejected)
        os.replace(entry.path, rejected / entry.path.name)
        fsync_dir(self.directory)

    def max_sequence(self) -> int:
        entries = self.entries()
        return entries[-1].sequence if entries else 0
