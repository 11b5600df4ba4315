"""The shipped profiles: valid reports, the SKU facts they claim, and in step with their generator."""
from __future__ import annotations

import pytest

from chipwatch_agent import nvml_fake
from chipwatch_agent.collector import Collector
from chipwatch_agent.report import NIL_AGENT_ID, build_report

HGX = {  # profile: (name, PCI device id, active links, link speed MBps, NVLink generation)
    "hgx-h100": ("NVIDIA H100 80GB HBM3", 0x2330, 18, 26562, 4),
    "hgx-h800": ("NVIDIA H800", 0x2324, 8, 26562, 4),
    "hgx-h20": ("NVIDIA H20", 0x2329, 18, 26562, 4),
    "hgx-h200": ("NVIDIA H200", 0x2335, 18, 26562, 4),
    "hgx-a100": ("NVIDIA A100-SXM4-80GB", 0x20B2, 12, 25000, 3),
    "hgx-a800": ("NVIDIA A800-SXM4-80GB", 0x20F3, 8, 25000, 3),
    "hgx-b200": ("NVIDIA B200", 0x2901, 18, 53125, 5),
}
PCIE = {
    "rtx-4090": ("NVIDIA GeForce RTX 4090", 0x2684),
    "rtx-4090d": ("NVIDIA GeForce RTX 4090 D", 0x2685),
    "l40s": ("NVIDIA L40S", 0x26B9),
    "l20": ("NVIDIA L20", 0x26BA),
}
FAULTS = ("fault-gpu-lost", "fault-not-supported", "fault-no-library")


def report_for(profile_name: str) -> dict:
    fake = nvml_fake.FakeNvml.from_profile(profile_name)
    collection = Collector(fake).collect()
    assert fake.misses == []
    return build_report(collection, agent_id=NIL_AGENT_ID, sequence=1, backend="fake")


def test_the_named_profiles_ship():
    assert set(nvml_fake.profile_names()) == set(HGX) | set(PCIE) | set(FAULTS)


@pytest.mark.parametrize("name", sorted(set(HGX) | set(PCIE) | set(FAULTS)))
def test_every_profile_gives_a_valid_synthetic_report(name, assert_valid):
    report = report_for(name)
    assert_valid(report)
    assert report["synthetic"] is True and report["agent"]["backend"] == "fake"


@pytest.mark.parametrize("name", sorted(HGX))
def test_hgx_profiles_have_the_sku_links(name):
    gpu_name, device_id, links, speed, generation = HGX[name]
    gpus = report_for(name)["identity"]["gpus"]
    assert len(gpus) == 8
    for gpu in gpus:
        assert gpu["name"] == gpu_name
        assert gpu["pci"]["device_id"] == device_id << 16 | 0x10DE
        active = [link for link in gpu["nvlinks"] if link["state"] == "active"]
        assert len(active) == links
        assert {(link["speed_mbps"], link["version"], link["remote_device_type"]) for link in active} == {
            (speed, generation, "switch")}


@pytest.mark.parametrize("name", sorted(PCIE))
def test_pcie_profiles_are_single_gpus_without_nvlink(name):
    gpu_name, device_id = PCIE[name]
    (gpu,) = report_for(name)["identity"]["gpus"]
    assert gpu["name"] == gpu_name and gpu["pci"]["device_id"] == device_id << 16 | 0x10DE
    assert gpu["nvlinks"] == []


def test_uuids_and_serials_are_unique_across_profiles():
    uuids, serials = [], []
    for name in sorted(set(HGX) | set(PCIE)):
        for gpu in report_for(name)["identity"]["gpus"]:
            uuids.append(gpu["uuid"])
            if isinstance(gpu["serial"], str):
                serials.append(gpu["serial"])
    assert len(set(uuids)) == len(uuids) == 7 * 8 + 4
    assert len(set(serials)) == len(serials)


def test_consumer_cards_do_not_report_a_serial():
    (gpu,) = report_for("rtx-4090")["identity"]["gpus"]
    assert gpu["serial"] == {"unsupported": True}


def test_profiles_are_what_the_generator_makes(load_tool):
    """Regenerate every profile in memory: a collector change that asks new calls shows up here."""
    tool = load_tool
    for spec in tool.PROFILES:
        shipped = (tool.PROFILES_DIR / f"{spec.name}.json").read_bytes()
        assert tool.record(spec) == shipped, f"{spec.name} is stale: run agents/tools/make_profiles.py"
