"""Licence determination: destination scope, D:5/Macau HQ rule, 91 FR 1684, is-informed, GP10."""

from datetime import date

import pytest

from compliance.core.catalog import chip
from compliance.core.classify import Spec, classify
from compliance.core.destinations import (
    CASE_BY_CASE,
    NOT_PUBLISHED,
    POLICY_OF_DENIAL,
    PRESUMPTION_OF_APPROVAL,
    PRESUMPTION_OF_DENIAL,
    UNDETERMINED,
    default_destinations,
    determine_license,
)

RULE_2023 = date(2023, 11, 17)
AFTER_SPLIT = date(2024, 6, 1)
CASE_BY_CASE_DAY = date(2026, 1, 15)


def licence(key_or_spec, as_of, destination, **kwargs):
    item = chip(key_or_spec) if isinstance(key_or_spec, str) else key_or_spec
    return determine_license(classify(item, as_of), destination=destination, as_of=as_of, **kwargs)


def test_country_groups_are_dated_iso_codes():
    places = default_destinations()
    assert "CN" in places.groups["D:5"].members(RULE_2023)
    assert "NO" in places.groups["A:5"].members(RULE_2023)  # not YAML's boolean
    assert places.groups["AI Tier 1"].members(date(2025, 1, 12)) == frozenset()
    assert "US" in places.groups["AI Tier 1"].members(date(2025, 1, 13))
    assert places.country(" hk ") == "CN"
    with pytest.raises(ValueError):
        places.country("CHN")


# ---------------------------------------------------------------- destination scope by regime


@pytest.mark.parametrize(
    "destination, required, policy",
    [
        ("CN", True, PRESUMPTION_OF_DENIAL),     # D:5
        ("MO", True, PRESUMPTION_OF_DENIAL),     # Macau
        ("HK", True, PRESUMPTION_OF_DENIAL),     # treated as China
        ("AE", True, PRESUMPTION_OF_APPROVAL),   # D:4 only
        ("VN", True, PRESUMPTION_OF_APPROVAL),   # D:1 only
        ("IL", False, None),                     # D:4 but also A:6
        ("CY", False, None),                     # D:5 but also A:6
        ("DE", False, None),
        ("US", False, None),
    ],
)
def test_2023_scope_d1_d4_d5_macau_minus_a5_a6(destination, required, policy):
    result = licence("h100-sxm", RULE_2023, destination)
    assert (result.license_required, result.review_policy) == (required, policy)


def test_2022_scope_is_china_only_then_macau():
    assert licence("a100-sxm", date(2022, 10, 7), "CN").license_required
    assert not licence("a100-sxm", date(2022, 10, 7), "AE").license_required
    assert not licence("a100-sxm", date(2023, 1, 16), "MO").license_required
    assert licence("a100-sxm", date(2023, 1, 17), "MO").license_required  # 88 FR 2821


def test_uncontrolled_chip_needs_no_licence():
    result = licence("l20", AFTER_SPLIT, "CN")
    assert not result.license_required
    assert result.reasons == ("not classified under 3A090 (89 FR 23876); no advanced-computing licence requirement applies",)


# ---------------------------------------------------------------- D:5 / Macau headquarters rule


@pytest.mark.parametrize(
    "as_of, hq, parent, required",
    [
        (date(2023, 11, 16), "CN", None, False),  # rule starts 2023-11-17
        (RULE_2023, "CN", None, True),
        (RULE_2023, None, "CN", True),            # ultimate parent counts
        (RULE_2023, "MO", None, True),
        (RULE_2023, "HK", None, True),
        (RULE_2023, "SG", "US", False),
    ],
)
def test_headquarters_rule_applies_anywhere(as_of, hq, parent, required):
    result = licence("h100-sxm", as_of, "MY", headquarters=hq, ultimate_parent_hq=parent)
    assert result.license_required is required
    if required:
        assert result.review_policy == PRESUMPTION_OF_DENIAL
        assert "15 CFR 744.23(a)(3)" in result.reasons[0]


def test_headquarters_rule_turns_d4_approval_into_denial():
    result = licence("h100-sxm", RULE_2023, "AE", headquarters="CN")
    assert result.review_policy == PRESUMPTION_OF_DENIAL


def test_headquartered_party_elsewhere_is_denial_from_91_fr_1684():
    result = licence("h200", CASE_BY_CASE_DAY, "MY", headquarters="CN")
    assert result.review_policy == PRESUMPTION_OF_DENIAL


# ---------------------------------------------------------------- NAC / ACA


def test_nac_for_d5_and_aca_for_d1_d4_after_the_split():
    to_china = licence("l40", AFTER_SPLIT, "CN")
    to_saudi = licence("l40", AFTER_SPLIT, "SA")
    assert (to_china.license_required, to_china.license_exception) == (False, "NAC")
    assert (to_saudi.license_required, to_saudi.license_exception) == (False, "ACA")
    assert licence("l40", AFTER_SPLIT, "SA", headquarters="CN").license_exception == "NAC"
    assert licence("l40", date(2024, 4, 3), "SA").license_exception == "NAC"


def test_entity_listing_overrides_an_exception():
    result = licence("rtx-4090", AFTER_SPLIT, "CN", entity_listed=True)
    assert (result.license_required, result.review_policy, result.license_exception) == (
        True, PRESUMPTION_OF_DENIAL, None)


# ---------------------------------------------------------------- 91 FR 1684


@pytest.mark.parametrize(
    "tpp, dram, as_of, policy",
    [
        (20999.9, 6499.9, CASE_BY_CASE_DAY, CASE_BY_CASE),
        (21000, 6499.9, CASE_BY_CASE_DAY, PRESUMPTION_OF_DENIAL),
        (20999.9, 6500, CASE_BY_CASE_DAY, PRESUMPTION_OF_DENIAL),
        (20999.9, 6499.9, date(2026, 1, 14), PRESUMPTION_OF_DENIAL),
    ],
)
def test_china_case_by_case_thresholds(tpp, dram, as_of, policy):
    spec = Spec(tpp=tpp, dram_bandwidth=dram, datacenter=True)
    assert licence(spec, as_of, "CN", movement="export_from_us").review_policy == policy


def test_h200_and_mi325x_case_by_case_but_b200_denied():
    assert licence("h200", CASE_BY_CASE_DAY, "CN", movement="export_from_us").review_policy == CASE_BY_CASE
    assert licence("mi325x", CASE_BY_CASE_DAY, "MO", movement="export_from_us").review_policy == CASE_BY_CASE
    assert licence("b200", CASE_BY_CASE_DAY, "CN").review_policy == PRESUMPTION_OF_DENIAL
    assert licence("h200", CASE_BY_CASE_DAY, "RU").review_policy == POLICY_OF_DENIAL  # 15 CFR 746.8


def test_case_by_case_without_dram_bandwidth_is_undetermined():
    result = licence(Spec(tpp=15000, datacenter=True), CASE_BY_CASE_DAY, "CN", movement="export_from_us")
    assert (result.license_required, result.review_policy) == (True, UNDETERMINED)
    assert result.missing == ("total DRAM bandwidth (GB/s)",)


# ---------------------------------------------------------------- H20 / MI308 is-informed


@pytest.mark.parametrize(
    "key, as_of, destination, required",
    [
        ("h20", date(2025, 4, 8), "CN", False),
        ("h20", date(2025, 4, 9), "CN", True),
        ("h20", date(2025, 4, 9), "RU", True),   # D:5
        ("h20", date(2025, 4, 9), "DE", False),
        ("l20", date(2025, 4, 9), "CN", False),  # below the H20's bandwidths
    ],
)
def test_h20_is_informed_requirement(key, as_of, destination, required):
    result = licence(key, as_of, destination)
    assert result.license_required is required
    if required:
        assert result.review_policy == NOT_PUBLISHED


def test_is_informed_reaches_parts_matching_h20_bandwidth():
    matching = Spec(tpp=2000, die_area=1000, dram_bandwidth=4000, datacenter=True, vendor="NVIDIA")
    below = Spec(tpp=2000, die_area=1000, dram_bandwidth=3999, io_bandwidth=1027, datacenter=True, vendor="NVIDIA")
    other_vendor = Spec(tpp=2000, die_area=1000, dram_bandwidth=4000, datacenter=True, vendor="Intel")
    assert licence(matching, date(2025, 5, 1), "CN").license_required
    assert not licence(below, date(2025, 5, 1), "CN").license_required
    assert not licence(other_vendor, date(2025, 5, 1), "CN").license_required


# ---------------------------------------------------------------- AI Diffusion switch and GP10


def test_ai_diffusion_is_off_by_default_and_switchable():
    as_of = date(2025, 6, 1)
    default = licence("h100-sxm", as_of, "MY")
    assert not default.license_required
    assert "not applied" in default.warnings[0]
    enforced = licence("h100-sxm", as_of, "MY", enforce_ai_diffusion=True)
    assert (enforced.license_required, enforced.review_policy) == (True, CASE_BY_CASE)
    within_lpp = licence("h100-sxm", as_of, "MY", enforce_ai_diffusion=True, order_tpp=26_898_568)
    assert (within_lpp.license_required, within_lpp.license_exception) == (False, "LPP")
    assert licence("h100-sxm", as_of, "MY", enforce_ai_diffusion=True, order_tpp=26_898_569).license_required
    assert not licence("h100-sxm", as_of, "JP", enforce_ai_diffusion=True).license_required  # Tier 1


def test_gp10_warning_for_prc_made_3a090_chips_from_2025_05_13():
    before = licence("ascend-910b", date(2025, 5, 12), "MY", prc_made=True)
    after = licence("ascend-910b", date(2025, 5, 13), "MY", prc_made=True)
    assert not any("GP10" in w for w in before.warnings)
    assert any("GP10" in w for w in after.warnings)
    assert not licence("h100-sxm", date(2025, 5, 13), "MY").warnings[1:]


def test_determination_to_dict_is_plain_data():
    data = licence("h100-sxm", RULE_2023, "CN").to_dict()
    basis = data.pop("basis")
    assert data == {
        "license_required": True,
        "review_policy": PRESUMPTION_OF_DENIAL,
        "license_exception": None,
        "headline": "licence required (presumption of denial)",
        "reasons": ["licence required for 3A090.a.1 item to CN (88 FR 73458, 15 CFR 742.6(a)(6)(iii)); "
                    "presumption of denial for D:5/Macau"],
        "warnings": [],
        "missing": [],
        "conditions": [],
        "unconfirmed": [],
    }
    assert any("CN in Country Group D:5" in row for row in basis)
