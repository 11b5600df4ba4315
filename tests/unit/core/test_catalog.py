"""Catalog: computed TPP/PD against the reference's published figures, loader errors, lookups."""

from pathlib import Path

import pytest
import yaml

from compliance.core.catalog import (
    CATALOG_PATH,
    H100_TPP,
    CatalogError,
    UnknownChip,
    chip,
    default_catalog,
    find_by_nvml_name,
    find_by_pci_id,
    load_catalog,
    parse_pci_id,
)

# TPP and performance density as published for each chip by the sources compliance/core/data/chips.yaml tags
# (vendor datasheets, trade press, export-control trackers; None where none gives a figure).  They round to 2-4
# significant digits and mark several figures "~", so computed values must agree within 1 % relative:
# e.g. H100 computes 15,831.2 (1,978.9 x 8) against the published 15,832, L2's PD 5.24 vs "~5.2".
TOLERANCE = 0.01
PUBLISHED = {
    "a100-sxm": (4992, 6.04),
    "a100-pcie": (4992, 6.04),
    "a800-sxm": (4992, 6.04),
    "a800-pcie": (4992, 6.04),
    "h100-sxm": (15832, 19.45),
    "h100-pcie": (12104, 14.9),
    "h100-nvl": (13368, 16.4),
    "h800-sxm": (15832, 19.45),
    "h800-pcie": (12100, 14.9),
    "h20": (2368, 2.91),
    "h200": (15832, 19.45),
    "b100": (28000, None),
    "b200": (36000, 22.5),
    "gb200": (40000, 25),
    "l40s": (5864, 9.63),
    "l40": (2896, 4.76),
    "l20": (1912, 3.14),
    "l4": (1940, 6.6),
    "l2": (1544, 5.2),
    "rtx-4090": (5286, 8.68),
    "rtx-4090-d": (4707, 7.73),
    "rtx-5090": (6704, 8.9),
    "rtx-5090-d": (4750, 6.3),
    "rtx-6000-ada": (5828, 9.6),
    "mi250x": (6128, 4.2),
    "mi300x": (20919, None),
    "mi325x": (20919, None),
    "gaudi2": (6900, None),
    "gaudi3": (29360, None),
    "ascend-910b": (5120, 7.7),
    "ascend-910c": (12800, 9.6),
}


@pytest.mark.parametrize("key, published", sorted(PUBLISHED.items()))
def test_computed_tpp_and_pd_match_published_figures(key, published):
    published_tpp, published_pd = published
    entry = chip(key)
    assert entry.tpp == pytest.approx(published_tpp, rel=TOLERANCE)
    if published_pd is None:
        assert entry.performance_density is None
    else:
        assert entry.performance_density == pytest.approx(published_pd, rel=TOLERANCE)


def test_catalog_covers_every_model_the_issue_names():
    assert set(PUBLISHED) <= {c.key for c in default_catalog()}


def test_vendor_published_tpp_agrees_with_computed_tpp():
    with_published = [c for c in default_catalog() if c.published_tpp is not None]
    assert {c.key for c in with_published} == {"a100-sxm", "h100-sxm", "h200", "rtx-4090", "rtx-4090-d", "mi325x"}
    for entry in with_published:
        assert entry.tpp == pytest.approx(entry.published_tpp, rel=TOLERANCE), entry.key


def test_h100_equivalent_divisor_comes_from_the_catalog():
    assert H100_TPP == 15832
    assert H100_TPP == chip("h100-sxm").published_tpp


def test_tpp_is_the_best_precision_times_its_bit_length():
    basis = chip("h100-sxm").tpp_basis
    assert (basis.precision, basis.rate_tops, basis.bits) == ("fp8", 1978.9, 8)
    assert chip("b200").tpp == 36000  # FP16, FP8 and FP4 all give 36,000
    assert chip("a100-sxm").tpp_basis.tpp == 4992


def test_die_area_aggregates_all_nonplanar_logic_dies():
    assert chip("b200").applicable_die_area == 1600  # 2 x ~800
    assert chip("ascend-910c").applicable_die_area == pytest.approx(1331.22)
    assert chip("mi300x").applicable_die_area is None  # XCD/IOD areas unknown -> no PD, not a guess


def test_io_bandwidth_adds_chip_to_chip_and_host_links():
    assert chip("h800-sxm").io_bandwidth == 528  # 400 NVLink + 128 PCIe Gen5 x16
    assert chip("a800-sxm").io_bandwidth == 464
    assert chip("h100-sxm").io_bandwidth == 1028
    assert chip("mi325x").io_bandwidth is None


def test_unconfirmed_values_are_marked_with_a_note():
    notes = chip("h800-sxm").unconfirmed()
    assert "rates.fp32" in notes and "unconfirmed for H800" in notes["rates.fp32"]
    assert "rates.fp8" not in notes
    assert chip("h800-sxm").provenance["interconnect.bandwidth_gbps"].source == "aiwiki"


# ---------------------------------------------------------------- lookups


@pytest.mark.parametrize(
    "name, key",
    [
        ("NVIDIA H800", "h800-sxm"),
        ("NVIDIA H800 80GB HBM3", "h800-sxm"),
        ("nvidia  h800   80gb hbm3 ", "h800-sxm"),
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("NVIDIA H20", "h20"),
        ("NVIDIA GeForce RTX 4090 D", "rtx-4090-d"),
        ("NVIDIA A100-SXM4-40GB", "a100-sxm"),
    ],
)
def test_lookup_by_nvml_name(name, key):
    assert find_by_nvml_name(name).key == key


def test_unknown_nvml_name_returns_none():
    assert find_by_nvml_name("NVIDIA H900") is None


@pytest.mark.parametrize("pci_id", [0x2330, "0x2330", "2330", 0x233010DE, "0x233010DE", "10de:2330"])
def test_lookup_by_pci_id_in_every_form(pci_id):
    assert [c.key for c in find_by_pci_id(pci_id)] == ["h100-sxm"]


def test_h800_raw_nvml_pci_device_id():
    assert [c.key for c in find_by_pci_id(0x232410DE)] == ["h800-sxm"]


def test_shared_device_id_returns_every_candidate():
    assert [c.key for c in find_by_pci_id(0x233610DE)] == ["h100-sxm", "h100-pcie"]
    assert [c.key for c in find_by_pci_id("1002:740c")] == ["mi250x", "mi250"]


def test_vendor_part_of_a_pci_id_narrows_the_match():
    assert find_by_pci_id(0x2330_1002) == ()  # right device id, wrong vendor
    assert find_by_pci_id(0xFFFF) == ()


def test_parse_pci_id_splits_nvml_form():
    assert parse_pci_id(0x233010DE) == (0x10DE, 0x2330)
    assert parse_pci_id("0x2330") == (None, 0x2330)
    with pytest.raises(ValueError):
        parse_pci_id("H100")
    with pytest.raises(ValueError):
        parse_pci_id(0x1_0000_0000)


def test_lookup_by_key_and_unknown_key():
    assert chip("h20").model == "H20 96GB"
    with pytest.raises(UnknownChip):
        chip("h900")


# ---------------------------------------------------------------- loader errors


def _write_broken(tmp_path: Path, mutate) -> Path:
    document = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    mutate(document)
    path = tmp_path / "chips.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _entry(document, key):
    return next(c for c in document["chips"] if c["key"] == key)


def test_loader_names_entry_and_field_on_a_wrong_type(tmp_path):
    def mutate(doc):
        _entry(doc, "h800-sxm")["rates"]["fp8"]["value"] = "fast"

    with pytest.raises(CatalogError) as error:
        load_catalog(_write_broken(tmp_path, mutate))
    assert "chip 'h800-sxm' field 'rates.fp8.value'" in str(error.value)


def test_loader_rejects_unconfirmed_value_without_note(tmp_path):
    def mutate(doc):
        _entry(doc, "h20")["sm_count"] = {"value": 78, "source": "REF", "confirmed": False}

    with pytest.raises(CatalogError, match=r"chip 'h20' field 'sm_count': 'note' is a required property"):
        load_catalog(_write_broken(tmp_path, mutate))


def test_loader_rejects_missing_required_field(tmp_path):
    def mutate(doc):
        del _entry(doc, "l40s")["datacenter"]

    with pytest.raises(CatalogError, match=r"chip 'l40s' field '\(entry\)': 'datacenter' is a required property"):
        load_catalog(_write_broken(tmp_path, mutate))


def test_loader_rejects_unknown_source_and_duplicate_names(tmp_path):
    def mutate(doc):
        _entry(doc, "l4")["tdp_w"]["source"] = "NOWHERE"
        _entry(doc, "l2")["nvml_names"]["value"] = ["NVIDIA L4"]

    with pytest.raises(CatalogError) as error:
        load_catalog(_write_broken(tmp_path, mutate))
    message = str(error.value)
    assert "chip 'l4' field 'tdp_w': unknown source 'NOWHERE'" in message
    assert "chip 'l2' field 'nvml_names': 'NVIDIA L4' already belongs to 'l4'" in message


def test_loader_reports_unparseable_yaml(tmp_path):
    path = tmp_path / "chips.yaml"
    path.write_text("chips: [unclosed", encoding="utf-8")
    with pytest.raises(CatalogError, match="cannot read catalog"):
        load_catalog(path)
