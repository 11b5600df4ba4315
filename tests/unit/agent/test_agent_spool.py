"""Spool semantics: atomic files, send order, bounded drop-oldest, an unwritable spool."""
from __future__ import annotations

import os
import stat

import pytest

from chipwatch_agent import protocol
from chipwatch_agent.spool import Spool, SpoolError


def fake_report(sequence: int, padding: int = 0) -> dict:
    return {"sequence": sequence, "report_id": f"00000000-0000-7000-8000-{sequence:012d}", "agent": {},
            "padding": "x" * padding}


def test_entries_come_back_in_sequence_order(tmp_path):
    spool = Spool(tmp_path / "spool", max_files=100, max_bytes=10**6)
    for sequence in (10, 2, 100, 9):
        spool.put(fake_report(sequence))
    assert [entry.sequence for entry in spool.entries()] == [2, 9, 10, 100]
    assert spool.max_sequence() == 100


def test_files_are_private_and_hold_canonical_json(tmp_path):
    spool = Spool(tmp_path / "spool", max_files=10, max_bytes=10**6)
    spool.put(fake_report(1))
    (entry,) = spool.entries()
    assert stat.S_IMODE(entry.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(entry.path.parent.stat().st_mode) == 0o700
    assert entry.path.read_bytes() == protocol.canonical_json(fake_report(1))
    assert spool.read(entry) == fake_report(1)


def test_a_crash_during_write_leaves_no_partial_report(tmp_path, monkeypatch):
    spool = Spool(tmp_path / "spool", max_files=10, max_bytes=10**6)
    spool.put(fake_report(1))

    def power_cut(*args):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(SpoolError):
        spool.put(fake_report(2))
    monkeypatch.undo()
    assert [entry.sequence for entry in spool.entries()] == [1]
    assert sorted(p.name for p in spool.directory.iterdir()) == [spool.entries()[0].path.name]


def test_temp_files_are_never_listed(tmp_path):
    spool = Spool(tmp_path / "spool", max_files=10, max_bytes=10**6)
    spool.put(fake_report(1))
    (spool.directory / ".0000000000000002-x.json.123.tmp").write_text("{")
    assert [entry.sequence for entry in spool.entries()] == [1]


def test_full_spool_drops_the_oldest_and_says_how_many(tmp_path):
    spool = Spool(tmp_path / "spool", max_files=3, max_bytes=10**6)
    dropped = [spool.put(fake_report(sequence)) for sequence in range(1, 6)]
    assert dropped == [0, 0, 0, 1, 1]
    assert [entry.sequence for entry in spool.entries()] == [3, 4, 5]


def test_byte_bound_drops_the_oldest_but_keeps_the_newest(tmp_path):
    spool = Spool(tmp_path / "spool", max_files=100, max_bytes=2500)
    for sequence in range(1, 4):
        spool.put(fake_report(sequence, padding=1000))
    assert [entry.sequence for entry in spool.entries()] == [2, 3]
    assert spool.put(fake_report(4, padding=5000)) == 2  # larger than the bound on its own: still kept
    assert [entry.sequence for entry in spool.entries()] == [4]


def test_unwritable_spool_raises_spool_error(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    spool = Spool(blocker / "spool", max_files=10, max_bytes=10**6)
    with pytest.raises(SpoolError, match="cannot write to spool"):
        spool.put(fake_report(1))
    assert spool.entries() == []


def test_reject_moves_the_file_aside(tmp_path):
    spool = Spool(tmp_path / "spool", max_files=10, max_bytes=10**6)
    spool.put(fake_report(1))
    spool.put(fake_report(2))
    spool.reject(spool.entries()[0])
    assert [entry.sequence for entry in spool.entries()] == [2]
    assert [p.name for p in (spool.directory / "rejected").iterdir()] == [
        "0000000000000001-00000000-0000-7000-8000-000000000001.json"]
