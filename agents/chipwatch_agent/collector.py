"""One collection cycle: what NVML says about this host's GPUs, field by field.

The NVML module is a parameter (real `pynvml`, a `RecordingNvml` around it, or
`FakeNvml`), so the same code runs on a GPU host, in a recording and in tests.

Every field is read on its own: a field NVML cannot give becomes a marker,
`{"unsupported": true}` for NotSupported or `{"error": "<NVMLError suffix>"}`,
and never a 0, so one failing field or GPU never blanks the rest of the report.
"""
from __future__ import annotations

import base64
import ctypes
import uuid
from typing import Any, Callable, Optional, Sequence

# nvmlNvlinkVersion_t is an enum, not the version: 3 means NVLink 2.2, 6 means 4.0.
NVLINK_GENERATION_BY_ENUM = {1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 5, 8: 6}
REMOTE_DEVICE_TYPES = {0: "gpu", 1: "ibmnpu", 2: "switch", 0xFF: "unknown"}

# Errors after which an older symbol or struct version may still answer.
_FALLBACK_ERRORS = ("FunctionNotFound", "ArgumentVersionMismatch", "NVMLLibraryMismatchError")

_FIELD_VALUE_MEMBERS = ("dVal", "uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal")

Marker = dict


def unsupported() -> Marker:
    return {"unsupported": True}


def is_marker(value: Any) -> bool:
    return isinstance(value, dict) and ("unsupported" in value or "error" in value)


def error_name(exc: BaseException) -> str:
    """`NVMLError_GpuIsLost` -> `GpuIsLost`; other exceptions keep their class name."""
    name = type(exc).__name__
    return name[len("NVMLError_"):] if name.startswith("NVMLError_") else name


def needs_fallback(value: Any) -> bool:
    return is_marker(value) and value.get("error") in _FALLBACK_ERRORS


def read_first(read: Callable[..., Any], attempts: Sequence[tuple], convert: Callable[[Any], Any] = None) -> Any:
    """The first of (function, *args) that answers; the next, older symbol is tried when
    the driver lacks the newer one or does not know its struct version."""
    value: Any = None
    for function, *args in attempts:
        value = read(function, *args, convert=convert)
        if not needs_fallback(value):
            return value
    return value


class _Gpu:
    """Reads the fields of one GPU; once NVML says the GPU is lost (or gave no
    handle), every further field gets that marker without asking again."""

    def __init__(self, reader: "Collector", index: int):
        self.reader = reader
        self.index = index
        self.handle: Any = None
        self.unreadable: Optional[Marker] = None

    def read(self, function: str, *args: Any, convert: Callable[[Any], Any] = None) -> Any:
        if self.unreadable is not None:
            return dict(self.unreadable)
        value = self.reader.read(function, self.handle, *args, convert=convert)
        if is_marker(value) and value.get("error") == "GpuIsLost":
            self.unreadable = dict(value)
        return value


class Collector:
    """Keeps the NVML session across cycles; an init failure is retried next cycle."""

    def __init__(self, nvml: Any):
        self.nvml = nvml
        self._field_errors = (nvml.NVMLError, nvml.NVMLLibraryMismatchError, UnicodeDecodeError)
        self._initialized = False

    # -- reading helpers ------------------------------------------------------

    def marker(self, exc: BaseException) -> Marker:
        if isinstance(exc, self.nvml.NVMLError_NotSupported):
            return unsupported()
        return {"error": error_name(exc)}

    def read(self, function: str, *args: Any, convert: Callable[[Any], Any] = None) -> Any:
        fn = getattr(self.nvml, function, None)
        if fn is None:  # an older pynvml without this wrapper at all
            return {"error": "FunctionNotFound"}
        try:
            value = fn(*args)
            return convert(value) if convert else value
        except self._field_errors as exc:
            if isinstance(exc, self.nvml.NVMLError_Uninitialized):
                self._initialized = False
            return self.marker(exc)

    # -- the cycle ------------------------------------------------------------

    def init(self) -> dict:
        """nvml_status after (re)initialising NVML when needed."""
        if self._initialized:
            return {"ok": True}
        try:
            self.nvml.nvmlInit()
        except self._field_errors as exc:
            return {"ok": False, "error": error_name(exc), "message": str(exc)[:1024]}
        self._initialized = True
        return {"ok": True}

    def close(self) -> None:
        if self._initialized:
            self._initialized = False
            self.read("nvmlShutdown")

    def collect(self, nonce: Optional[bytes] = None) -> dict:
        """{nvml_status, host, identity, telemetry[, attestation]} for one cycle.

        `nonce` (32 bytes from the server) asks for attestation evidence per GPU.
        """
        status = self.init()
        result: dict = {"nvml_status": status, "host": {}, "identity": {"gpus": []}, "telemetry": {"gpus": []}}
        if nonce is not None:
            result["attestation"] = []
        if not status["ok"]:
            return result
        result["host"] = self._host_versions()
        count = self.read("nvmlDeviceGetCount")
        if is_marker(count):
            result["nvml_status"] = {"ok": False, "error": count.get("error", "NotSupported"),
                                     "message": "nvmlDeviceGetCount failed"}
            return result
        confidential_compute = self._confidential_compute()
        for index in range(count):
            gpu = _Gpu(self, index)
            handle = self.read("nvmlDeviceGetHandleByIndex", index)
            if is_marker(handle):
                gpu.unreadable = handle
            else:
                gpu.handle = handle
            identity = self._identity(gpu, confidential_compute)
            result["identity"]["gpus"].append(identity)
            result["telemetry"]["gpus"].append(self._telemetry(gpu, identity["uuid"]))
            if nonce is not None:
                result["attestation"].append(self._attestation(gpu, identity["uuid"], nonce))
        return result

    def _host_versions(self) -> dict:
        return {
            "driver_version": self.read("nvmlSystemGetDriverVersion"),
            "nvml_version": self.read("nvmlSystemGetNVMLVersion"),
            "cuda_driver_version": read_first(
                self.read, [("nvmlSystemGetCudaDriverVersion_v2",), ("nvmlSystemGetCudaDriverVersion",)]
            ),
        }

    def _confidential_compute(self) -> Any:
        state = self.read("nvmlSystemGetConfComputeState", convert=lambda s: {
            "cc_feature": s.ccFeature, "dev_tools_mode": s.devToolsMode, "environment": s.environment,
        })
        if not is_marker(state):
            state["gpus_ready"] = self.read("nvmlSystemGetConfComputeGpusReadyState")
        return state

    # -- identity -------------------------------------------------------------

    def _identity(self, gpu: _Gpu, confidential_compute: Any) -> dict:
        nvml = self.nvml
        limits = gpu.read("nvmlDeviceGetPowerManagementLimitConstraints")
        return {
            "index": gpu.index,
            "uuid": gpu.read("nvmlDeviceGetUUID"),
            "name": gpu.read("nvmlDeviceGetName"),
            "serial": gpu.read("nvmlDeviceGetSerial"),
            "board_id": gpu.read("nvmlDeviceGetBoardId"),
            "multi_gpu_board": gpu.read("nvmlDeviceGetMultiGpuBoard", convert=bool),
            "module_id": gpu.read("nvmlDeviceGetModuleId"),
            "pci": gpu.read("nvmlDeviceGetPciInfo", convert=lambda p: {
                "bus_id": p.busId, "device_id": p.pciDeviceId, "subsystem_id": p.pciSubSystemId,
            }),
            "board_part_number": gpu.read("nvmlDeviceGetBoardPartNumber"),
            "vbios_version": gpu.read("nvmlDeviceGetVbiosVersion"),
            "inforom_image_version": gpu.read("nvmlDeviceGetInforomImageVersion"),
            "architecture": gpu.read("nvmlDeviceGetArchitecture"),
            "compute_capability": gpu.read("nvmlDeviceGetCudaComputeCapability", convert=list),
            "brand": gpu.read("nvmlDeviceGetBrand"),
            "memory_total_bytes": read_first(
                gpu.read,
                [("nvmlDeviceGetMemoryInfo", nvml.nvmlMemory_v2), ("nvmlDeviceGetMemoryInfo",)],
                convert=lambda m: m.total,
            ),
            "num_cores": gpu.read("nvmlDeviceGetNumGpuCores"),
            "max_clocks_mhz": {
                "sm": gpu.read("nvmlDeviceGetMaxClockInfo", nvml.NVML_CLOCK_SM),
                "mem": gpu.read("nvmlDeviceGetMaxClockInfo", nvml.NVML_CLOCK_MEM),
            },
            "power_limits_mw": {
                "default": gpu.read("nvmlDeviceGetPowerManagementDefaultLimit"),
                "min": limits if is_marker(limits) else limits[0],
                "max": limits if is_marker(limits) else limits[1],
                "enforced": gpu.read("nvmlDeviceGetEnforcedPowerLimit"),
            },
            "mig_mode": gpu.read("nvmlDeviceGetMigMode", convert=lambda m: {"current": m[0], "pending": m[1]}),
            "pcie": {
                "max_gen": gpu.read("nvmlDeviceGetMaxPcieLinkGeneration"),
                "max_width": gpu.read("nvmlDeviceGetMaxPcieLinkWidth"),
            },
            "nvlinks": self._nvlinks(gpu),
            "fabric": self._fabric(gpu),
            "confidential_compute": dict(confidential_compute),
        }

    def _nvlinks(self, gpu: _Gpu) -> Any:
        """Every link the GPU has, probing up to NVML_NVLINK_MAX_LINKS.

        InvalidArgument and NotSupported mean "no such link" (an H800 has links
        0-7 only; a PCIe card has none).  Any other error means the links cannot
        be enumerated, and the whole list becomes that marker.
        """
        nvml = self.nvml
        links = []
        for link in range(nvml.NVML_NVLINK_MAX_LINKS):
            state = gpu.read("nvmlDeviceGetNvLinkState", link)
            if is_marker(state):
                if state.get("unsupported") or state.get("error") == "InvalidArgument":
                    continue
                return state
            links.append({"link": link, "state": "active" if state == nvml.NVML_FEATURE_ENABLED else "inactive"})
        active = [entry for entry in links if entry["state"] == "active"]
        speeds = self._nvlink_speeds(gpu, [entry["link"] for entry in active])
        for entry in active:
            link = entry["link"]
            entry["version"] = gpu.read("nvmlDeviceGetNvLinkVersion", link, convert=_nvlink_generation)
            entry["speed_mbps"] = speeds[link]
            entry["remote_device_type"] = gpu.read(
                "nvmlDeviceGetNvLinkRemoteDeviceType", link, convert=lambda t: REMOTE_DEVICE_TYPES.get(t, "unknown")
            )
            entry["remote_pci_bus_id"] = gpu.read("nvmlDeviceGetNvLinkRemotePciInfo", link, convert=lambda p: p.busId)
        return links

    def _nvlink_speeds(self, gpu: _Gpu, active: list) -> dict:
        """Per-link MBps: NVML_FI_DEV_NVLINK_GET_SPEED (R520+), else the per-link
        SPEED_MBPS_L0..L11 fields, else the common speed of all active links."""
        nvml = self.nvml
        speeds: dict = {}
        pending = list(active)
        legacy_per_link = [getattr(nvml, f"NVML_FI_DEV_NVLINK_SPEED_MBPS_L{n}") for n in range(12)]
        attempts = [
            lambda link: (nvml.NVML_FI_DEV_NVLINK_GET_SPEED, link),
            lambda link: legacy_per_link[link] if link < len(legacy_per_link) else nvml.NVML_FI_DEV_NVLINK_SPEED_MBPS_COMMON,
            lambda link: nvml.NVML_FI_DEV_NVLINK_SPEED_MBPS_COMMON,
        ]
        for field_for in attempts:
            if not pending:
                break
            values = gpu.read("nvmlDeviceGetFieldValues", [field_for(link) for link in pending], convert=list)
            if is_marker(values):
                for link in pending:
                    speeds[link] = values
                continue
            still_pending = []
            for link, value in zip(pending, values):
                speeds[link] = self._field_value(value)
                if is_marker(speeds[link]):
                    still_pending.append(link)
            pending = still_pending
        return speeds

    def _field_value(self, value: Any) -> Any:
        if value.nvmlReturn != self.nvml.NVML_SUCCESS:
            return self.marker(self.nvml.NVMLError(value.nvmlReturn))
        if not 0 <= value.valueType < len(_FIELD_VALUE_MEMBERS):
            return {"error": "UnknownValueType"}
        return int(getattr(value.value, _FIELD_VALUE_MEMBERS[value.valueType]))

    def _fabric(self, gpu: _Gpu) -> Any:
        """Fabric state (cluster UUID, clique): newest struct first, older ones on version mismatch."""
        result: Any = unsupported()
        for function, struct_name in (
            ("nvmlDeviceGetGpuFabricInfoV", "c_nvmlGpuFabricInfo_v3_t"),
            ("nvmlDeviceGetGpuFabricInfoV", "c_nvmlGpuFabricInfo_v2_t"),
            ("nvmlDeviceGetGpuFabricInfo", "c_nvmlGpuFabricInfo_t"),
        ):
            struct_class = getattr(self.nvml, struct_name, None)
            if struct_class is None:
                continue
            info = struct_class()
            result = gpu.read(function, ctypes.byref(info), convert=lambda _: _fabric_fields(info))
            if not needs_fallback(result):
                return result
        return result

    # -- telemetry ------------------------------------------------------------

    def _telemetry(self, gpu: _Gpu, gpu_uuid: Any) -> dict:
        nvml = self.nvml
        utilization = gpu.read("nvmlDeviceGetUtilizationRates")
        remapped = gpu.read("nvmlDeviceGetRemappedRows", convert=lambda r: {
            "correctable": r[0], "uncorrectable": r[1], "pending": bool(r[2]), "failure": bool(r[3]),
        })
        return {
            "uuid": gpu_uuid,
            "clocks_mhz": {
                "sm": gpu.read("nvmlDeviceGetClockInfo", nvml.NVML_CLOCK_SM),
                "mem": gpu.read("nvmlDeviceGetClockInfo", nvml.NVML_CLOCK_MEM),
            },
            "utilization_pct": {
                "gpu": utilization if is_marker(utilization) else utilization.gpu,
                "memory": utilization if is_marker(utilization) else utilization.memory,
            },
            "power_draw_mw": gpu.read("nvmlDeviceGetPowerUsage"),
            "energy_mj": gpu.read("nvmlDeviceGetTotalEnergyConsumption"),
            "temperature_c": read_first(gpu.read, [
                ("nvmlDeviceGetTemperatureV", nvml.NVML_TEMPERATURE_GPU),
                ("nvmlDeviceGetTemperature", nvml.NVML_TEMPERATURE_GPU),
            ]),
            "clock_event_reasons": read_first(gpu.read, [
                ("nvmlDeviceGetCurrentClocksEventReasons",), ("nvmlDeviceGetCurrentClocksThrottleReasons",),
            ]),
            "ecc_errors": {
                "corrected_volatile": gpu.read(
                    "nvmlDeviceGetTotalEccErrors", nvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, nvml.NVML_VOLATILE_ECC),
                "uncorrected_volatile": gpu.read(
                    "nvmlDeviceGetTotalEccErrors", nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, nvml.NVML_VOLATILE_ECC),
            },
            "remapped_rows": remapped,
            "compute_process_count": read_first(
                gpu.read,
                [("nvmlDeviceGetComputeRunningProcesses",), ("nvmlDeviceGetComputeRunningProcesses_v2",)],
                convert=len,
            ),
        }

    # -- attestation ----------------------------------------------------------

    def _attestation(self, gpu: _Gpu, gpu_uuid: Any, nonce: bytes) -> dict:
        """Confidential-computing evidence over the server's nonce (CC mode, Hopper+)."""
        return {
            "index": gpu.index,
            "uuid": gpu_uuid,
            "nonce": nonce.hex(),
            "report_b64": gpu.read("nvmlDeviceGetConfComputeGpuAttestationReport", nonce, convert=lambda r: _b64(
                bytes(r.attestationReport[: r.attestationReportSize]))),
            "certificate_chain_b64": gpu.read("nvmlDeviceGetConfComputeGpuCertificate", convert=lambda c: _b64(
                bytes(c.attestationCertChain[: c.attestationCertChainSize]))),
        }


def _nvlink_generation(enum_value: int) -> Any:
    generation = NVLINK_GENERATION_BY_ENUM.get(enum_value)
    if generation is None:
        return {"error": "UnknownNvlinkVersion", "message": f"nvmlNvlinkVersion_t value {enum_value}"}
    return generation


def _fabric_fields(info: Any) -> dict:
    fields = {
        "cluster_uuid": str(uuid.UUID(bytes=bytes(info.clusterUuid))),
        "clique_id": info.cliqueId,
        "state": info.state,
        "status": info.status,
    }
    for source, target in (("healthMask", "health_mask"), ("healthSummary", "health_summary")):
        if any(spec[0] == source for spec in type(info)._fields_):
            fields[target] = getattr(info, source)
    return fields


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
