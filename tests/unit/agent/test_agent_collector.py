"""Every collector path against the fake NVML, including each error class pynvml raises (NVMLError_<Name> for
the NVML_ERROR_* codes of nvmlReturn_t, NVIDIA NVML API Reference)."""
from __future__ import annotations

import pynvml
import pytest

from chipwatch_agent import nvml_fake
from chipwatch_agent.collector import Collector
from chipwatch_agent.report import NIL_AGENT_ID, build_report
from chipwatch_agent.snapshot import RecordingNvml

NOT_SUPPORTED = {"unsupported": True}


def collect(snapshot_or_name, snapshots, nonce=None, cycles=1):
    snapshot = snapshots.load(snapshot_or_name) if isinstance(snapshot_or_name, str) else snapshot_or_name
    fake = nvml_fake.FakeNvml(snapshot)
    collector = Collector(fake)
    for _ in range(cycles):
        result = collector.collect(nonce)
    assert fake.misses == [], "the collector asked something the snapshot does not hold"
    return result


def report_of(collection):
    return build_report(collection, agent_id=NIL_AGENT_ID, sequence=1, backend="fake")


def test_h800_has_links_0_to_7_only(snapshots, assert_valid):
    """Links 8-17 answer NotSupported, 18-35 InvalidArgument: both mean 'no such link'."""
    result = collect("hgx-h800", snapshots)
    assert_valid(report_of(result))
    for gpu in result["identity"]["gpus"]:
        assert [link["link"] for link in gpu["nvlinks"]] == list(range(8))
        for link in gpu["nvlinks"]:
            assert link == {"link": link["link"], "state": "active", "version": 4, "speed_mbps": 26562,
                            "remote_device_type": "switch", "remote_pci_bus_id": link["remote_pci_bus_id"]}


@pytest.mark.parametrize("enum_value, generation", [(1, 1), (3, 2), (4, 3), (5, 3), (6, 4), (7, 5), (8, 6)])
def test_nvlink_version_enum_maps_to_real_generation(snapshots, enum_value, generation):
    snapshot = snapshots.load("hgx-h800")
    snapshots.set_outcome(snapshot, "nvmlDeviceGetNvLinkVersion", {"return": enum_value})
    links = collect(snapshot, snapshots)["identity"]["gpus"][0]["nvlinks"]
    assert {link["version"] for link in links} == {generation}


def test_unknown_nvlink_version_enum_is_a_marker(snapshots):
    snapshot = snapshots.load("hgx-h800")
    snapshots.set_outcome(snapshot, "nvmlDeviceGetNvLinkVersion", {"return": 42}, handle=0)
    link = collect(snapshot, snapshots)["identity"]["gpus"][0]["nvlinks"][0]
    assert link["version"]["error"] == "UnknownNvlinkVersion"


def test_inactive_link_is_listed_without_speed(snapshots):
    snapshot = snapshots.load("hgx-h800")
    snapshots.set_outcome(snapshot, "nvmlDeviceGetNvLinkState", {"return": 0}, handle=0, arg=lambda a: a[1] == 3)
    # the speed query then asks for the 7 active links only
    _, args, outcome = next(c for c in snapshot["calls"]
                            if c[0] == "nvmlDeviceGetFieldValues" and c[1][0] == {"$handle": 0})
    items = outcome["return"]["items"]
    snapshots.add_call(snapshot, "nvmlDeviceGetFieldValues", [args[0], args[1][:3] + args[1][4:]],
                       {"return": dict(outcome["return"], items=items[:3] + items[4:])})
    links = collect(snapshot, snapshots)["identity"]["gpus"][0]["nvlinks"]
    assert links[3] == {"link": 3, "state": "inactive"}
    assert sum(link["state"] == "active" for link in links) == 7


def test_pcie_card_has_no_nvlinks(snapshots, assert_valid):
    result = collect("l40s", snapshots)
    assert_valid(report_of(result))
    gpu = result["identity"]["gpus"][0]
    assert gpu["nvlinks"] == []
    assert gpu["fabric"] == NOT_SUPPORTED
    assert gpu["mig_mode"] == NOT_SUPPORTED


@pytest.mark.parametrize("code, marker", [
    (pynvml.NVML_ERROR_NOT_SUPPORTED, NOT_SUPPORTED),
    (pynvml.NVML_ERROR_NO_PERMISSION, {"error": "NoPermission"}),
    (pynvml.NVML_ERROR_UNKNOWN, {"error": "Unknown"}),
    (pynvml.NVML_ERROR_CORRUPTED_INFOROM, {"error": "CorruptedInforom"}),
])
def test_a_failing_field_becomes_its_marker_and_nothing_else_changes(snapshots, code, marker):
    snapshot = snapshots.load("hgx-h100")
    baseline = collect("hgx-h100", snapshots)
    snapshots.set_outcome(snapshot, "nvmlDeviceGetSerial", {"error": code}, handle=2)
    result = collect(snapshot, snapshots)
    assert result["identity"]["gpus"][2]["serial"] == marker
    result["identity"]["gpus"][2]["serial"] = baseline["identity"]["gpus"][2]["serial"]
    assert result == baseline


def test_not_supported_profile_reports_markers_never_zero(snapshots, assert_valid):
    result = collect("fault-not-supported", snapshots)
    assert_valid(report_of(result))
    gpu, telemetry = result["identity"]["gpus"][0], result["telemetry"]["gpus"][0]
    for field in ("serial", "board_part_number", "inforom_image_version", "multi_gpu_board", "mig_mode"):
        assert gpu[field] == NOT_SUPPORTED, field
    for field in ("power_draw_mw", "energy_mj", "remapped_rows"):
        assert telemetry[field] == NOT_SUPPORTED, field
    assert telemetry["utilization_pct"] == {"gpu": NOT_SUPPORTED, "memory": NOT_SUPPORTED}
    assert telemetry["ecc_errors"] == {"corrected_volatile": NOT_SUPPORTED, "uncorrected_volatile": NOT_SUPPORTED}
    assert gpu["num_cores"] == {"error": "FunctionNotFound"}  # no older symbol to fall back to
    assert all(link["remote_device_type"] == NOT_SUPPORTED for link in gpu["nvlinks"])
    assert gpu["confidential_compute"] == {"error": "FunctionNotFound"}


def test_function_not_found_falls_back_to_older_symbols(snapshots):
    """MemoryInfo_v2, TemperatureV, ClocksEventReasons and CudaDriverVersion_v2 are missing
    on the old driver of fault-not-supported; the older calls answer."""
    result = collect("fault-not-supported", snapshots)
    gpu, telemetry = result["identity"]["gpus"][3], result["telemetry"]["gpus"][3]
    assert gpu["memory_total_bytes"] == 81559 * 2**20
    assert telemetry["temperature_c"] == 33
    assert telemetry["clock_event_reasons"] == pynvml.nvmlClocksEventReasonGpuIdle
    assert result["host"]["cuda_driver_version"] == 11080


def test_argument_version_mismatch_falls_back_to_older_struct(snapshots):
    """Fabric v3 struct refused (ArgumentVersionMismatch): the v2 struct answers, without healthSummary."""
    fabric = collect("fault-not-supported", snapshots)["identity"]["gpus"][0]["fabric"]
    assert fabric["state"] == pynvml.NVML_GPU_FABRIC_STATE_COMPLETED
    assert "health_mask" in fabric and "health_summary" not in fabric
    assert collect("hgx-h100", snapshots)["identity"]["gpus"][0]["fabric"]["health_summary"] == 1


def test_nvlink_speed_falls_back_to_legacy_fields(snapshots):
    """NVML_FI_DEV_NVLINK_GET_SPEED NotSupported (pre-R520): SPEED_MBPS_L0..L11, then COMMON."""
    links = collect("fault-not-supported", snapshots)["identity"]["gpus"][0]["nvlinks"]
    assert [link["speed_mbps"] for link in links] == [26562] * 18


def test_nvlink_speed_all_fields_failing_is_a_marker(snapshots):
    snapshot = snapshots.load("hgx-h800")
    snapshots.set_outcome(snapshot, "nvmlDeviceGetFieldValues", {"error": pynvml.NVML_ERROR_NO_PERMISSION}, handle=1)
    # the fallbacks are asked too, and refuse as well
    legacy = [pynvml.NVML_FI_DEV_NVLINK_SPEED_MBPS_L0 + n for n in range(6)] + \
        [pynvml.NVML_FI_DEV_NVLINK_SPEED_MBPS_L6, pynvml.NVML_FI_DEV_NVLINK_SPEED_MBPS_L7]
    common = [pynvml.NVML_FI_DEV_NVLINK_SPEED_MBPS_COMMON] * 8
    for fields in (legacy, common):
        snapshots.add_call(snapshot, "nvmlDeviceGetFieldValues", [{"$handle": 1}, fields],
                           {"error": pynvml.NVML_ERROR_NO_PERMISSION})
    links = collect(snapshot, snapshots)["identity"]["gpus"][1]["nvlinks"]
    assert {str(link["speed_mbps"]) for link in links} == {str({"error": "NoPermission"})}


def test_gpu_lost_mid_cycle_keeps_the_other_gpus(snapshots, assert_valid):
    """fault-gpu-lost: GPU 5 answers its first calls, then GpuIsLost; next cycle even its handle is lost."""
    first = collect("fault-gpu-lost", snapshots)
    assert_valid(report_of(first))
    lost = first["identity"]["gpus"][5]
    assert isinstance(lost["uuid"], str) and lost["name"] == "NVIDIA H100 80GB HBM3"
    assert lost["nvlinks"] == {"error": "GpuIsLost"}
    assert first["telemetry"]["gpus"][5]["power_draw_mw"] == {"error": "GpuIsLost"}
    for index in (0, 4, 6, 7):
        assert len(first["identity"]["gpus"][index]["nvlinks"]) == 18

    second = collect("fault-gpu-lost", snapshots, cycles=2)
    assert_valid(report_of(second))
    gone = second["identity"]["gpus"][5]
    assert gone["uuid"] == gone["name"] == gone["pci"] == {"error": "GpuIsLost"}
    assert second["identity"]["gpus"][6]["name"] == "NVIDIA H100 80GB HBM3"


def test_unicode_decode_error_from_struct_field_is_a_marker(snapshots, assert_valid):
    """A non-UTF-8 byte in a c_char field makes pynvml's struct decoding raise."""
    snapshot = snapshots.load("hgx-h100")
    snapshots.set_outcome(snapshot, "nvmlDeviceGetPciInfo", {"return": {"$struct": "nvmlPciInfo_t", "fields": {
        "busId": {"$hex": "30303030ff3a31383a30302e30"}, "pciDeviceId": 0x233010DE}}}, handle=0)
    result = collect(snapshot, snapshots)
    assert result["identity"]["gpus"][0]["pci"] == {"error": "UnicodeDecodeError"}
    assert_valid(report_of(result))


def test_library_mismatch_error_falls_back_to_v2_processes(snapshots):
    snapshot = snapshots.load("hgx-h100")
    snapshots.set_outcome(snapshot, "nvmlDeviceGetComputeRunningProcesses", {"raise": "NVMLLibraryMismatchError"},
                          handle=0)
    snapshots.add_call(snapshot, "nvmlDeviceGetComputeRunningProcesses_v2", [{"$handle": 0}],
                       {"return": [{"$object": {"pid": 4242, "usedGpuMemory": 1024}}]})
    assert collect(snapshot, snapshots)["telemetry"]["gpus"][0]["compute_process_count"] == 1


def test_library_mismatch_without_older_symbol_is_a_marker(snapshots):
    snapshot = snapshots.load("hgx-h100")
    snapshots.set_outcome(snapshot, "nvmlDeviceGetComputeRunningProcesses", {"raise": "NVMLLibraryMismatchError"})
    snapshots.add_call(snapshot, "nvmlDeviceGetComputeRunningProcesses_v2", [{"$any": True}],
                       {"raise": "NVMLLibraryMismatchError"})
    telemetry = collect(snapshot, snapshots)["telemetry"]["gpus"][0]
    assert telemetry["compute_process_count"] == {"error": "NVMLLibraryMismatchError"}


@pytest.mark.parametrize("code, name", [
    (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "LibraryNotFound"),
    (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "DriverNotLoaded"),
    (pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH, "LibRmVersionMismatch"),
])
def test_init_failure_is_a_host_status_report(snapshots, assert_valid, code, name):
    snapshot = snapshots.load("fault-no-library")
    snapshots.set_outcome(snapshot, "nvmlInit", {"error": code})
    result = collect(snapshot, snapshots)
    assert result["nvml_status"]["ok"] is False and result["nvml_status"]["error"] == name
    assert result["nvml_status"]["message"]
    assert result["identity"] == {"gpus": []} and result["telemetry"] == {"gpus": []}
    assert_valid(report_of(result))


def test_init_is_retried_next_cycle(snapshots):
    snapshot = snapshots.load("hgx-h800")
    snapshot["calls"].insert(0, ["nvmlInit", [], {"error": pynvml.NVML_ERROR_DRIVER_NOT_LOADED}])
    fake = nvml_fake.FakeNvml(snapshot)
    collector = Collector(fake)
    assert collector.collect()["nvml_status"]["error"] == "DriverNotLoaded"
    second = collector.collect()
    assert second["nvml_status"] == {"ok": True} and len(second["identity"]["gpus"]) == 8


def test_uninitialized_mid_run_reinitialises_next_cycle(snapshots):
    snapshot = snapshots.load("hgx-h800")
    snapshot["calls"].insert(0, ["nvmlDeviceGetCount", [], {"error": pynvml.NVML_ERROR_UNINITIALIZED}])
    recorder = RecordingNvml(nvml_fake.FakeNvml(snapshot))
    collector = Collector(recorder)
    assert collector.collect()["nvml_status"]["error"] == "Uninitialized"
    assert len(collector.collect()["identity"]["gpus"]) == 8
    assert [call[0] for call in recorder.calls].count("nvmlInit") == 2


def test_attestation_evidence_over_the_server_nonce(snapshots, assert_valid):
    nonce = bytes(range(32))
    result = collect("hgx-h200", snapshots, nonce=nonce)
    assert_valid(report_of(result))
    assert len(result["attestation"]) == 8
    for index, evidence in enumerate(result["attestation"]):
        assert evidence["index"] == index and evidence["nonce"] == nonce.hex()
        assert evidence["uuid"] == result["identity"]["gpus"][index]["uuid"]
        assert evidence["report_b64"] and evidence["certificate_chain_b64"]
    assert result["identity"]["gpus"][0]["confidential_compute"]["cc_feature"] == 1


def test_attestation_unsupported_outside_cc_mode(snapshots, assert_valid):
    result = collect("hgx-h100", snapshots, nonce=bytes(32))
    assert_valid(report_of(result))
    assert {str(e["report_b64"]) for e in result["attestation"]} == {str(NOT_SUPPORTED)}


def test_no_attestation_section_without_nonce(snapshots):
    assert "attestation" not in collect("hgx-h200", snapshots)


def test_fake_speaks_pynvml_types(snapshots):
    fake = nvml_fake.FakeNvml(snapshots.load("hgx-h100"))
    fake.nvmlInit()
    handle = fake.nvmlDeviceGetHandleByIndex(0)
    assert isinstance(fake.nvmlDeviceGetPciInfo(handle), pynvml.nvmlPciInfo_t)
    assert fake.NVML_NVLINK_MAX_LINKS == pynvml.NVML_NVLINK_MAX_LINKS
    with pytest.raises(pynvml.NVMLError_InvalidArgument):
        fake.nvmlDeviceGetNvLinkState(handle, 20)
    with pytest.raises(nvml_fake.NVMLError_NotRecorded):
        fake.nvmlDeviceGetDecoderUtilization(handle)
    assert fake.misses == [("nvmlDeviceGetDecoderUtilization", [{"$handle": 0}])]
