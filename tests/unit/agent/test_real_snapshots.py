"""Snapshots recorded on real GPUs (bench/real_gpu_record.sh) replay through the collector into
valid reports without asking anything the recording lacks.  None has been recorded yet when this folder is
empty: the test then reports an empty parameter set instead of pretending."""
from pathlib import Path

import pytest
from chipwatch_agent.collector import Collector
from chipwatch_agent.nvml_fake import FakeNvml, load_snapshot
from chipwatch_agent.report import build_report

SNAPSHOTS = sorted((Path(__file__).resolve().parents[2] / "fixtures" / "nvml").glob("*.json"))


@pytest.mark.parametrize("path", SNAPSHOTS, ids=[p.stem for p in SNAPSHOTS])
def test_real_snapshot_replays(path, assert_valid):
    fake = FakeNvml(load_snapshot(path))
    report = build_report(Collector(fake).collect(), agent_id="00000000-0000-4000-8000-000000000000", sequence=1,
                          backend="fake")
    assert_valid(report)
    assert report["nvml_status"]["ok"], report["nvml_status"]
    assert not fake.misses, f"the collector asked what the recording lacks: {fake.misses[:3]}"
