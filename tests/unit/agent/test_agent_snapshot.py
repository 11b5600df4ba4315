"""Recording and replaying NVML: byte-identical round trips, struct fidelity."""
from __future__ import annotations

import ctypes
import subprocess
import sys

import pynvml
from hypothesis import given, settings
from hypothesis import strategies as st

from chipwatch_agent import nvml_fake
from chipwatch_agent import snapshot as snap
from chipwatch_agent.collector import Collector


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "chipwatch_agent", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


def test_record_replay_record_is_byte_identical(tmp_path):
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    done = cli("record", "--fake-nvml", "hgx-h800", "--out", str(first), "--state-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    done = cli("record", "--fake-nvml", str(first), "--out", str(second), "--state-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert first.read_bytes() == second.read_bytes()
    assert b'"nvmlDeviceGetNvLinkState"' in first.read_bytes()


def test_multi_cycle_record_of_a_lost_gpu_replays_identically(snapshots):
    def record(snapshot):
        recorder = snap.RecordingNvml(nvml_fake.FakeNvml(snapshot))
        collector = Collector(recorder)
        for _ in range(3):
            collector.collect(bytes(32))
        collector.close()
        return snap.dumps(recorder.snapshot(source="test"))

    once = record(snapshots.load("fault-gpu-lost"))
    assert record(snap.loads(once)) == once


def test_recording_keeps_errors_and_arguments(snapshots):
    recorder = snap.RecordingNvml(nvml_fake.FakeNvml(snapshots.load("hgx-h800")))
    Collector(recorder).collect()
    probes = {call[1][1]: call[2] for call in recorder.calls if call[0] == "nvmlDeviceGetNvLinkState"
              and call[1][0] == {"$handle": 0}}
    assert probes[7] == {"return": 1}
    assert probes[8] == {"error": pynvml.NVML_ERROR_NOT_SUPPORTED}
    assert probes[35] == {"error": pynvml.NVML_ERROR_INVALID_ARGUMENT}


def test_recorder_logs_missing_wrappers_as_function_not_found():
    class OldPynvml:
        NVMLError = pynvml.NVMLError
        NVMLLibraryMismatchError = pynvml.NVMLLibraryMismatchError

    recorder = snap.RecordingNvml(OldPynvml())
    try:
        recorder.nvmlDeviceGetTemperatureV(None, 0)
    except pynvml.NVMLError_FunctionNotFound:
        pass
    assert recorder.calls == [["nvmlDeviceGetTemperatureV", [None, 0], {"error": pynvml.NVML_ERROR_FUNCTION_NOT_FOUND}]]


def test_unknown_snapshot_format_is_refused():
    try:
        snap.loads(b'{"format": "something else", "calls": []}')
    except ValueError as exc:
        assert "not an NVML snapshot" in str(exc)
    else:
        raise AssertionError("accepted a foreign file")


@settings(max_examples=200, deadline=None)
@given(bus_id=st.binary(max_size=32), legacy=st.binary(max_size=16), device=st.integers(0, 2**32 - 1),
       domain=st.integers(0, 2**32 - 1))
def test_struct_encoding_is_byte_exact(bus_id, legacy, device, domain):
    """Any bytes in c_char fields, valid UTF-8 or not, come back identical."""
    pci = pynvml.nvmlPciInfo_t()
    base = ctypes.addressof(pci)
    ctypes.memmove(base + pynvml.nvmlPciInfo_t.busId.offset, bus_id, len(bus_id))
    ctypes.memmove(base + pynvml.nvmlPciInfo_t.busIdLegacy.offset, legacy, len(legacy))
    pci.pciDeviceId, pci.domain = device, domain
    encoded = snap.encode(pci, lambda obj: None)
    assert bytes(snap.decode(snap.loads(snap.dumps({"format": snap.FORMAT, "calls": [[
        "f", [], {"return": encoded}]]}))["calls"][0][2]["return"], None)) == bytes(pci)


def test_field_value_arrays_round_trip():
    values = (pynvml.c_nvmlFieldValue_t * 2)()
    values[0].fieldId, values[0].scopeId, values[0].value.uiVal = pynvml.NVML_FI_DEV_NVLINK_GET_SPEED, 3, 26562
    values[1].fieldId, values[1].nvmlReturn = pynvml.NVML_FI_DEV_NVLINK_GET_SPEED, pynvml.NVML_ERROR_NOT_SUPPORTED
    decoded = snap.decode(snap.encode(values, lambda obj: None), None)
    assert bytes(decoded) == bytes(values)
    assert type(decoded[0]) is pynvml.c_nvmlFieldValue_t
