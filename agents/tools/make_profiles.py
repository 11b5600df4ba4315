"""Generate the shipped NVML profiles (chipwatch_agent/profiles/*.json) from a compact spec.

A profile is an ordinary NVML snapshot: the collector is run against
`SpecNvml` (a small model of a GPU host built from the SKU table below) through
the same `RecordingNvml` proxy that `chipwatch-agent record` uses on a real
host.  So a profile holds exactly the calls the collector makes, and
regenerating after a collector change keeps them in step:

    python agents/tools/make_profiles.py            # rewrite the profiles
    python agents/tools/make_profiles.py --check    # exit 1 if any is stale

The SKU figures are public ones (PCI ids from pci.ids, NVLink counts and speeds
from nvidia-smi captures, see docs/report-format.md); everything per board
(UUIDs, serials, bus ids) is derived deterministically from the profile name.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import pynvml

from chipwatch_agent import snapshot as snap
from chipwatch_agent.collector import Collector

PROFILES_DIR = Path(__file__).resolve().parent.parent / "chipwatch_agent" / "profiles"
UUID_NAMESPACE = uuid.UUID("5b0f3c2e-7a4d-4c57-9a0e-2f4c1d6b8e11")
# The nonce the profiles were recorded with; its argument is stored as "any nonce".
PROFILE_NONCE = hashlib.sha256(b"chipwatch profile nonce").digest()

NOT_SUPPORTED = pynvml.NVML_ERROR_NOT_SUPPORTED
INVALID_ARGUMENT = pynvml.NVML_ERROR_INVALID_ARGUMENT
FUNCTION_NOT_FOUND = pynvml.NVML_ERROR_FUNCTION_NOT_FOUND
VERSION_MISMATCH = pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH
GPU_IS_LOST = pynvml.NVML_ERROR_GPU_IS_LOST
MIB = 1 << 20


@dataclass(frozen=True)
class NvLink:
    links: int  # active links
    version_enum: int  # nvmlNvlinkVersion_t: 4 = NVLink 3.0, 6 = 4.0, 7 = 5.0
    speed_mbps: int
    switches: int  # NVSwitch chips on the baseboard, each link goes to one of them
    absent_not_supported: int = 0  # links after the active ones that answer NotSupported (fused off)


@dataclass(frozen=True)
class Sku:
    name: str
    device_id: int
    subsystem_id: int
    architecture: int
    compute_capability: tuple
    memory_mib: int
    cores: int
    max_sm_mhz: int
    max_mem_mhz: int
    power_w: tuple  # (default, min, max)
    part_number: Optional[str]
    vbios: str
    inforom: Optional[str]
    pcie: tuple  # (max gen, max width)
    brand: int = pynvml.NVML_BRAND_NVIDIA
    nvlink: Optional[NvLink] = None
    fabric: bool = False  # registered with Fabric Manager (Hopper+ on NVSwitch)
    mig_capable: bool = True
    ecc: bool = True
    serial: bool = True


@dataclass(frozen=True)
class Host:
    driver: str
    cuda: int
    gpus: int
    confidential_compute: bool = False


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    sku: Sku
    host: Host
    errors: dict = field(default_factory=dict)  # function name -> NVML error code, for every GPU
    lost_gpu: Optional[tuple] = None  # (index, after this many calls on its handle)
    init_error: Optional[int] = None
    cycles: int = 1


HOPPER, AMPERE, ADA, BLACKWELL = (
    pynvml.NVML_DEVICE_ARCH_HOPPER, pynvml.NVML_DEVICE_ARCH_AMPERE, pynvml.NVML_DEVICE_ARCH_ADA,
    pynvml.NVML_DEVICE_ARCH_BLACKWELL,
)
NVLINK4 = NvLink(links=18, version_enum=6, speed_mbps=26562, switches=4)
H100 = Sku("NVIDIA H100 80GB HBM3", 0x2330, 0x16C1, HOPPER, (9, 0), 81559, 16896, 1980, 2619, (700, 200, 700),
           "692-2G520-0200-000", "96.00.74.00.0D", "G520.0200.00.05", (5, 16), nvlink=NVLINK4, fabric=True)
CONSUMER = dict(brand=pynvml.NVML_BRAND_GEFORCE, mig_capable=False, ecc=False, serial=False, part_number=None)
HGX_HOPPER = Host("550.54.15", 12040, 8)

PROFILES = [
    Profile("hgx-h100", "HGX H100 8-GPU: 18 x NVLink4 per GPU to 4 NVSwitches", H100, HGX_HOPPER),
    Profile("hgx-h800", "HGX H800 8-GPU: NVLink cut to 8 links (links 8-17 absent)",
            replace(H100, name="NVIDIA H800", device_id=0x2324, subsystem_id=0x17A6, part_number="692-2G520-0280-000",
                    nvlink=replace(NVLINK4, links=8, absent_not_supported=10)), HGX_HOPPER),
    Profile("hgx-h20", "HGX H20 8-GPU: H100-class NVLink (18 links), cut compute",
            replace(H100, name="NVIDIA H20", device_id=0x2329, subsystem_id=0x1834, memory_mib=97871, cores=9984,
                    power_w=(500, 200, 500), part_number="692-2G520-0230-000"), HGX_HOPPER),
    Profile("hgx-h200", "HGX H200 8-GPU in confidential-computing mode (attestation answers)",
            replace(H100, name="NVIDIA H200", device_id=0x2335, subsystem_id=0x18BE, memory_mib=143771,
                    part_number="692-2G520-0292-000", vbios="96.00.A5.00.01"),
            replace(HGX_HOPPER, driver="550.127.05", confidential_compute=True)),
    Profile("hgx-a100", "HGX A100 80GB 8-GPU: 12 x NVLink3 to 6 NVSwitches",
            Sku("NVIDIA A100-SXM4-80GB", 0x20B2, 0x147F, AMPERE, (8, 0), 81920, 6912, 1410, 1593, (400, 100, 400),
                "692-2G506-0210-002", "92.00.36.00.02", "G506.0210.00.04", (4, 16),
                nvlink=NvLink(links=12, version_enum=4, speed_mbps=25000, switches=6)),
            Host("535.183.01", 12020, 8)),
    Profile("hgx-a800", "HGX A800 80GB 8-GPU: NVLink cut to 8 links (links 8-11 absent)",
            Sku("NVIDIA A800-SXM4-80GB", 0x20F3, 0x1497, AMPERE, (8, 0), 81920, 6912, 1410, 1593, (400, 100, 400),
                "692-2G506-0212-002", "92.00.45.00.06", "G506.0212.00.02", (4, 16),
                nvlink=NvLink(links=8, version_enum=4, speed_mbps=25000, switches=6, absent_not_supported=4)),
            Host("535.183.01", 12020, 8)),
    Profile("hgx-b200", "HGX B200 8-GPU: 18 x NVLink5 to 2 NVSwitch chips",
            Sku("NVIDIA B200", 0x2901, 0x1999, BLACKWELL, (10, 0), 183359, 18944, 1965, 3996, (1000, 200, 1000),
                "692-2G525-0202-000", "97.00.4B.00.01", "G525.0202.00.01", (5, 16),
                nvlink=NvLink(links=18, version_enum=7, speed_mbps=53125, switches=2), fabric=True),
            Host("570.124.06", 12080, 8)),
    Profile("rtx-4090", "Workstation with one GeForce RTX 4090 (PCIe, no NVLink)",
            Sku("NVIDIA GeForce RTX 4090", 0x2684, 0x16F3, ADA, (8, 9), 24564, 16384, 3120, 10501, (450, 150, 600),
                vbios="95.02.3C.00.8E", inforom="G002.0000.00.03", pcie=(4, 16), **CONSUMER),
            Host("550.54.15", 12040, 1)),
    Profile("rtx-4090d", "Workstation with one GeForce RTX 4090 D (PCIe, no NVLink)",
            Sku("NVIDIA GeForce RTX 4090 D", 0x2685, 0x167C, ADA, (8, 9), 24564, 14592, 3105, 10501, (425, 150, 425),
                vbios="95.02.5C.00.05", inforom="G002.0000.00.03", pcie=(4, 16), **CONSUMER),
            Host("550.54.15", 12040, 1)),
    Profile("l40s", "Server with one L40S (PCIe, no NVLink)",
            Sku("NVIDIA L40S", 0x26B9, 0x1851, ADA, (8, 9), 46068, 18176, 2520, 9001, (350, 100, 350),
                "900-2G133-0080-000", "95.02.66.00.02", "G133.0500.00.05", (4, 16), mig_capable=False),
            Host("550.54.15", 12040, 1)),
    Profile("l20", "Server with one L20 (PCIe, no NVLink)",
            Sku("NVIDIA L20", 0x26BA, 0x1957, ADA, (8, 9), 46068, 11776, 2520, 9001, (275, 100, 275),
                "900-2G133-0090-000", "95.02.81.00.01", "G133.0500.00.05", (4, 16), mig_capable=False),
            Host("550.54.15", 12040, 1)),
    Profile("fault-gpu-lost", "HGX H100 where GPU 5 falls off the bus mid-cycle (GpuIsLost from then on)",
            H100, HGX_HOPPER, lost_gpu=(5, 30), cycles=2),
    Profile("fault-not-supported", "HGX H100 on an older, locked-down driver: many fields NotSupported, "
            "newer symbols and struct versions missing (fallbacks answer)",
            H100, replace(HGX_HOPPER, driver="520.61.05", cuda=11080),
            errors={
                "nvmlDeviceGetSerial": NOT_SUPPORTED, "nvmlDeviceGetBoardPartNumber": NOT_SUPPORTED,
                "nvmlDeviceGetInforomImageVersion": NOT_SUPPORTED, "nvmlDeviceGetNumGpuCores": FUNCTION_NOT_FOUND,
                "nvmlDeviceGetModuleId": FUNCTION_NOT_FOUND, "nvmlDeviceGetPowerUsage": NOT_SUPPORTED,
                "nvmlDeviceGetTotalEnergyConsumption": NOT_SUPPORTED, "nvmlDeviceGetUtilizationRates": NOT_SUPPORTED,
                "nvmlDeviceGetTotalEccErrors": NOT_SUPPORTED, "nvmlDeviceGetRemappedRows": NOT_SUPPORTED,
                "nvmlDeviceGetMigMode": NOT_SUPPORTED, "nvmlDeviceGetMultiGpuBoard": NOT_SUPPORTED,
                "nvmlDeviceGetMemoryInfo/v2": FUNCTION_NOT_FOUND, "nvmlDeviceGetTemperatureV": FUNCTION_NOT_FOUND,
                "nvmlDeviceGetCurrentClocksEventReasons": FUNCTION_NOT_FOUND,
                "nvmlDeviceGetGpuFabricInfoV/v3": VERSION_MISMATCH, "nvmlDeviceGetNvLinkRemoteDeviceType": NOT_SUPPORTED,
                "field/NVML_FI_DEV_NVLINK_GET_SPEED": NOT_SUPPORTED,
                "nvmlSystemGetConfComputeState": FUNCTION_NOT_FOUND,
                "nvmlSystemGetCudaDriverVersion_v2": FUNCTION_NOT_FOUND,
            }),
    Profile("fault-no-library", "Host without libnvidia-ml.so.1: nvmlInit raises LibraryNotFound",
            H100, HGX_HOPPER, init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND),
]

HGX_BUS_IDS = (0x18, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB)
SWITCH_BUS_IDS = (0x05, 0x06, 0x07, 0x08, 0x09, 0x0A)


def _digest(*parts) -> bytes:
    return hashlib.sha256("/".join(str(part) for part in parts).encode()).digest()


class SpecHandle:
    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


class UnmodelledCall(RuntimeError):
    """The collector asked the profile generator for an NVML call it does not model yet."""


class SpecNvml:
    """A GPU host modelled from a Profile, answering like pynvml (its structs, its errors)."""

    def __init__(self, profile: Profile):
        self.profile = profile
        self.sku = profile.sku
        self._handles = [SpecHandle(index) for index in range(profile.host.gpus)]
        self._calls_on = [0] * profile.host.gpus

    def __getattr__(self, name):
        attr = getattr(pynvml, name)  # constants, struct and error classes
        if snap.is_nvml_function(name, attr):
            # Loud on purpose (and not AttributeError, which hasattr() would swallow): a profile
            # generated without this call would silently lack it.
            raise UnmodelledCall(f"SpecNvml does not model {name}; add it so profiles stay complete")
        return attr

    # -- errors -------------------------------------------------------------

    def _check(self, key: str, handle: Optional[SpecHandle] = None) -> None:
        if handle is not None and self.profile.lost_gpu and handle.index == self.profile.lost_gpu[0]:
            self._calls_on[handle.index] += 1
            if self._calls_on[handle.index] > self.profile.lost_gpu[1]:
                raise pynvml.NVMLError(GPU_IS_LOST)
        code = self.profile.errors.get(key) or self.profile.errors.get(key.split("/")[0])
        if code:
            raise pynvml.NVMLError(code)

    def _gpu(self, function: str, handle: SpecHandle) -> int:
        self._check(function, handle)
        return handle.index

    # -- system -------------------------------------------------------------

    def nvmlInit(self):
        if self.profile.init_error:
            raise pynvml.NVMLError(self.profile.init_error)

    def nvmlShutdown(self):
        return None

    def nvmlSystemGetDriverVersion(self):
        return self.profile.host.driver

    def nvmlSystemGetNVMLVersion(self):
        return f"{self.profile.host.cuda // 1000}.{self.profile.host.driver}"

    def nvmlSystemGetCudaDriverVersion_v2(self):
        self._check("nvmlSystemGetCudaDriverVersion_v2")
        return self.profile.host.cuda

    def nvmlSystemGetCudaDriverVersion(self):
        return self.profile.host.cuda

    def nvmlDeviceGetCount(self):
        return self.profile.host.gpus

    def nvmlSystemGetConfComputeState(self):
        self._check("nvmlSystemGetConfComputeState")
        state = pynvml.c_nvmlConfComputeSystemState_t()
        if self.profile.host.confidential_compute:
            state.environment, state.ccFeature = pynvml.NVML_CC_SYSTEM_ENVIRONMENT_PROD, 1
        return state

    def nvmlSystemGetConfComputeGpusReadyState(self):
        return int(self.profile.host.confidential_compute)

    def nvmlDeviceGetHandleByIndex(self, index):
        handle = self._handles[index]
        self._check("nvmlDeviceGetHandleByIndex", handle)
        return handle

    # -- identity -----------------------------------------------------------

    def _bus(self, index: int) -> int:
        return HGX_BUS_IDS[index] if self.profile.host.gpus > 1 else 0x01

    def nvmlDeviceGetUUID(self, handle):
        index = self._gpu("nvmlDeviceGetUUID", handle)
        return f"GPU-{uuid.uuid5(UUID_NAMESPACE, f'{self.profile.name}/{index}')}"

    def nvmlDeviceGetName(self, handle):
        self._gpu("nvmlDeviceGetName", handle)
        return self.sku.name

    def nvmlDeviceGetSerial(self, handle):
        index = self._gpu("nvmlDeviceGetSerial", handle)
        if not self.sku.serial:
            raise pynvml.NVMLError(NOT_SUPPORTED)
        return str(1650000000000 + int.from_bytes(_digest(self.profile.name, index)[:5], "big") % 10**12)

    def nvmlDeviceGetBoardId(self, handle):
        return self._bus(self._gpu("nvmlDeviceGetBoardId", handle)) << 8

    def nvmlDeviceGetMultiGpuBoard(self, handle):
        self._gpu("nvmlDeviceGetMultiGpuBoard", handle)
        return 0

    def nvmlDeviceGetModuleId(self, handle):
        index = self._gpu("nvmlDeviceGetModuleId", handle)
        return index + 1 if self.profile.host.gpus > 1 else 0

    def _pci(self, bus: int, device_id: int, subsystem_id: int):
        pci = pynvml.nvmlPciInfo_t()
        pci.bus, pci.pciDeviceId, pci.pciSubSystemId = bus, device_id << 16 | 0x10DE, subsystem_id
        pci.busId = f"00000000:{bus:02X}:00.0"
        pci.busIdLegacy = f"0000:{bus:02X}:00.0"
        return pci

    def nvmlDeviceGetPciInfo(self, handle):
        index = self._gpu("nvmlDeviceGetPciInfo", handle)
        return self._pci(self._bus(index), self.sku.device_id, self.sku.subsystem_id << 16 | 0x10DE)

    def nvmlDeviceGetBoardPartNumber(self, handle):
        self._gpu("nvmlDeviceGetBoardPartNumber", handle)
        if self.sku.part_number is None:
            raise pynvml.NVMLError(NOT_SUPPORTED)
        return self.sku.part_number

    def nvmlDeviceGetVbiosVersion(self, handle):
        self._gpu("nvmlDeviceGetVbiosVersion", handle)
        return self.sku.vbios

    def nvmlDeviceGetInforomImageVersion(self, handle):
        self._gpu("nvmlDeviceGetInforomImageVersion", handle)
        return self.sku.inforom

    def nvmlDeviceGetArchitecture(self, handle):
        self._gpu("nvmlDeviceGetArchitecture", handle)
        return self.sku.architecture

    def nvmlDeviceGetCudaComputeCapability(self, handle):
        self._gpu("nvmlDeviceGetCudaComputeCapability", handle)
        return tuple(self.sku.compute_capability)

    def nvmlDeviceGetBrand(self, handle):
        self._gpu("nvmlDeviceGetBrand", handle)
        return self.sku.brand

    def nvmlDeviceGetMemoryInfo(self, handle, version=None):
        index = self._gpu("nvmlDeviceGetMemoryInfo" + ("/v2" if version else ""), handle)
        memory = pynvml.c_nvmlMemory_v2_t() if version else pynvml.c_nvmlMemory_t()
        if version:
            memory.version, memory.reserved = version, 512 * MIB
        memory.total = self.sku.memory_mib * MIB
        memory.used = (index + 1) * MIB
        memory.free = memory.total - memory.used
        return memory

    def nvmlDeviceGetNumGpuCores(self, handle):
        self._gpu("nvmlDeviceGetNumGpuCores", handle)
        return self.sku.cores

    def nvmlDeviceGetMaxClockInfo(self, handle, clock):
        self._gpu("nvmlDeviceGetMaxClockInfo", handle)
        return self.sku.max_sm_mhz if clock == pynvml.NVML_CLOCK_SM else self.sku.max_mem_mhz

    def nvmlDeviceGetPowerManagementDefaultLimit(self, handle):
        self._gpu("nvmlDeviceGetPowerManagementDefaultLimit", handle)
        return self.sku.power_w[0] * 1000

    def nvmlDeviceGetPowerManagementLimitConstraints(self, handle):
        self._gpu("nvmlDeviceGetPowerManagementLimitConstraints", handle)
        return [self.sku.power_w[1] * 1000, self.sku.power_w[2] * 1000]

    def nvmlDeviceGetEnforcedPowerLimit(self, handle):
        self._gpu("nvmlDeviceGetEnforcedPowerLimit", handle)
        return self.sku.power_w[0] * 1000

    def nvmlDeviceGetMigMode(self, handle):
        self._gpu("nvmlDeviceGetMigMode", handle)
        if not self.sku.mig_capable:
            raise pynvml.NVMLError(NOT_SUPPORTED)
        return [0, 0]

    def nvmlDeviceGetMaxPcieLinkGeneration(self, handle):
        self._gpu("nvmlDeviceGetMaxPcieLinkGeneration", handle)
        return self.sku.pcie[0]

    def nvmlDeviceGetMaxPcieLinkWidth(self, handle):
        self._gpu("nvmlDeviceGetMaxPcieLinkWidth", handle)
        return self.sku.pcie[1]

    # -- NVLink and fabric --------------------------------------------------

    def _link(self, function: str, handle: SpecHandle, link: int) -> NvLink:
        """The SKU's NVLink spec, or the error NVML gives for a link the GPU does not have."""
        self._gpu(function, handle)
        nvlink = self.sku.nvlink
        if nvlink is None:
            raise pynvml.NVMLError(NOT_SUPPORTED)
        if link >= nvlink.links:
            raise pynvml.NVMLError(NOT_SUPPORTED if link < nvlink.links + nvlink.absent_not_supported else INVALID_ARGUMENT)
        return nvlink

    def nvmlDeviceGetNvLinkState(self, handle, link):
        self._link("nvmlDeviceGetNvLinkState", handle, link)
        return pynvml.NVML_FEATURE_ENABLED

    def nvmlDeviceGetNvLinkVersion(self, handle, link):
        return self._link("nvmlDeviceGetNvLinkVersion", handle, link).version_enum

    def nvmlDeviceGetNvLinkRemoteDeviceType(self, handle, link):
        self._link("nvmlDeviceGetNvLinkRemoteDeviceType", handle, link)
        return pynvml.NVML_NVLINK_DEVICE_TYPE_SWITCH

    def nvmlDeviceGetNvLinkRemotePciInfo(self, handle, link):
        nvlink = self._link("nvmlDeviceGetNvLinkRemotePciInfo", handle, link)
        return self._pci(SWITCH_BUS_IDS[link % nvlink.switches], 0x22A3, 0)

    def nvmlDeviceGetFieldValues(self, handle, field_ids):
        self._gpu("nvmlDeviceGetFieldValues", handle)
        names = {getattr(pynvml, name): name for name in dir(pynvml) if name.startswith("NVML_FI_DEV_NVLINK_")}
        values = (pynvml.c_nvmlFieldValue_t * len(field_ids))()
        for value, requested in zip(values, field_ids):
            field_id, scope = requested if isinstance(requested, tuple) else (requested, 0)
            value.fieldId, value.scopeId, value.timestamp = field_id, scope, 1700000000000000
            name = names.get(field_id, "")
            value.nvmlReturn = self.profile.errors.get("field/" + name, 0)
            nvlink = self.sku.nvlink
            if nvlink is None or "SPEED" not in name:
                value.nvmlReturn = value.nvmlReturn or NOT_SUPPORTED
            elif not value.nvmlReturn:
                value.valueType, value.value.uiVal = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT, nvlink.speed_mbps
        return values

    def _fabric(self, function: str, handle: SpecHandle, struct) -> None:
        index = self._gpu(function, handle)
        if not self.sku.fabric:
            raise pynvml.NVMLError(NOT_SUPPORTED)
        info = struct._obj
        info.clusterUuid[:] = uuid.uuid5(UUID_NAMESPACE, f"{self.profile.name}/fabric").bytes
        info.cliqueId = 32766 + index // 8
        info.state = pynvml.NVML_GPU_FABRIC_STATE_COMPLETED
        info.status = pynvml.NVML_SUCCESS
        if hasattr(info, "healthMask"):
            info.healthMask = 0
        if hasattr(info, "healthSummary"):
            info.healthSummary = pynvml.NVML_GPU_FABRIC_HEALTH_SUMMARY_HEALTHY

    def nvmlDeviceGetGpuFabricInfoV(self, handle, struct):
        version = "/v3" if isinstance(struct._obj, pynvml.c_nvmlGpuFabricInfo_v3_t) else "/v2"
        self._fabric("nvmlDeviceGetGpuFabricInfoV" + version, handle, struct)
        return pynvml.NVML_SUCCESS

    # -- telemetry ----------------------------------------------------------

    def nvmlDeviceGetClockInfo(self, handle, clock):
        self._gpu("nvmlDeviceGetClockInfo", handle)
        return 345 if clock == pynvml.NVML_CLOCK_SM else self.sku.max_mem_mhz

    def nvmlDeviceGetUtilizationRates(self, handle):
        self._gpu("nvmlDeviceGetUtilizationRates", handle)
        return pynvml.c_nvmlUtilization_t(gpu=0, memory=0)

    def nvmlDeviceGetPowerUsage(self, handle):
        index = self._gpu("nvmlDeviceGetPowerUsage", handle)
        return 68000 + 1000 * index

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        index = self._gpu("nvmlDeviceGetTotalEnergyConsumption", handle)
        return 8_640_000_000 + 1_000_000 * index

    def nvmlDeviceGetTemperatureV(self, handle, sensor):
        index = self._gpu("nvmlDeviceGetTemperatureV", handle)
        return 30 + index

    def nvmlDeviceGetTemperature(self, handle, sensor):
        index = self._gpu("nvmlDeviceGetTemperature", handle)
        return 30 + index

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle):
        self._gpu("nvmlDeviceGetCurrentClocksEventReasons", handle)
        return pynvml.nvmlClocksEventReasonGpuIdle

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle):
        self._gpu("nvmlDeviceGetCurrentClocksThrottleReasons", handle)
        return pynvml.nvmlClocksEventReasonGpuIdle

    def nvmlDeviceGetTotalEccErrors(self, handle, error_type, counter_type):
        self._gpu("nvmlDeviceGetTotalEccErrors", handle)
        if not self.sku.ecc:
            raise pynvml.NVMLError(NOT_SUPPORTED)
        return 0

    def nvmlDeviceGetRemappedRows(self, handle):
        self._gpu("nvmlDeviceGetRemappedRows", handle)
        if not self.sku.ecc:
            raise pynvml.NVMLError(NOT_SUPPORTED)
        return (0, 0, 0, 0)

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        self._gpu("nvmlDeviceGetComputeRunningProcesses", handle)
        return []

    # -- confidential computing ---------------------------------------------

    def nvmlDeviceGetConfComputeGpuAttestationReport(self, handle, nonce):
        index = self._gpu("nvmlDeviceGetConfComputeGpuAttestationReport", handle)
        if not self.profile.host.confidential_compute:
            raise pynvml.NVMLError(NOT_SUPPORTED)
        report = pynvml.c_nvmlConfComputeGpuAttestationReport_t()
        body = b"FAKE-SPDM-MEASUREMENTS" + b"".join(_digest(self.profile.name, index, n) for n in range(8))
        report.attestationReport[: len(body)] = body
        report.attestationReportSize = len(body)
        return report

    def nvmlDeviceGetConfComputeGpuCertificate(self, handle):
        index = self._gpu("nvmlDeviceGetConfComputeGpuCertificate", handle)
        if not self.profile.host.confidential_compute:
            raise pynvml.NVMLError(NOT_SUPPORTED)
        certificate = pynvml.c_nvmlConfComputeGpuCertificate_t()
        chain = b"-----BEGIN CERTIFICATE-----\nFAKE" + _digest(self.profile.name, index).hex().encode() + \
            b"\n-----END CERTIFICATE-----\n"
        certificate.attestationCertChain[: len(chain)] = chain
        certificate.attestationCertChainSize = len(chain)
        return certificate


def record(profile: Profile) -> bytes:
    recorder = snap.RecordingNvml(SpecNvml(profile))
    collector = Collector(recorder)
    for _ in range(profile.cycles):
        collector.collect(nonce=PROFILE_NONCE)
    collector.close()
    for name, args, _ in recorder.calls:
        if name == "nvmlDeviceGetConfComputeGpuAttestationReport":
            args[1] = {"$any": True}
    return snap.dumps(recorder.snapshot(
        profile=profile.name, description=profile.description, source="chipwatch-agent tools/make_profiles.py",
        synthetic=True,
    ))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a profile is stale")
    args = parser.parse_args(argv)
    stale = []
    PROFILES_DIR.mkdir(exist_ok=True)
    for profile in PROFILES:
        path = PROFILES_DIR / f"{profile.name}.json"
        data = record(profile)
        if path.exists() and path.read_bytes() == data:
            continue
        stale.append(path.name)
        if not args.check:
            path.write_bytes(data)
    verb = "stale" if args.check else "written"
    print(f"{len(PROFILES)} profiles, {len(stale)} {verb}: {' '.join(stale)}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
