"""3A090 classification at every threshold boundary of every regime."""

import re
from datetime import date

import pytest

from compliance.core.catalog import chip
from compliance.core.classify import HbmStack, InsufficientSpec, Spec, classify
from compliance.core.regimes import REGIMES, regime_in_force

BEFORE_2022 = date(2022, 10, 6)
RULE_2022 = date(2022, 10, 7)
LAST_DAY_2022_RULE = date(2023, 11, 16)
RULE_2023 = date(2023, 11, 17)
RULE_HBM = date(2024, 12, 2)


# ---------------------------------------------------------------- regimes by date


@pytest.mark.parametrize(
    "as_of, citation",
    [
        (date(2022, 10, 6), None),
        (date(2022, 10, 7), "87 FR 62186"),
        (date(2023, 11, 16), "88 FR 2821"),
        (date(2023, 11, 17), "88 FR 73458"),
        (date(2024, 4, 3), "88 FR 73458"),
        (date(2024, 4, 4), "89 FR 23876"),
        (date(2024, 12, 1), "89 FR 23876"),
        (date(2024, 12, 2), "89 FR 96790"),
        (date(2025, 1, 12), "89 FR 96790"),
        (date(2025, 1, 13), "90 FR 4544"),
        (date(2026, 1, 14), "90 FR 4544"),
        (date(2026, 1, 15), "91 FR 1684"),
    ],
)
def test_regime_in_force_day_before_and_day_of(as_of, citation):
    regime = regime_in_force(as_of)
    assert (regime.citation if regime else None) == citation


def test_regimes_are_in_date_order_and_all_cited():
    assert [r.effective for r in REGIMES] == sorted(r.effective for r in REGIMES)
    for regime in REGIMES:
        assert re.fullmatch(r"\d+ FR \d+", regime.citation)
        for paragraph in regime.paragraphs:
            for threshold in paragraph.conditions:
                assert re.match(r"\d+ FR \d+, 3A090\.", threshold.citation), threshold


def test_nothing_is_controlled_before_2022_10_07():
    result = classify(chip("h100-sxm"), BEFORE_2022)
    assert result.eccn is None and result.rule is None
    assert result.explanation[0].result is False
    assert result.explanation[0].limit == "2022-10-07"


# ---------------------------------------------------------------- 87 FR 62186


@pytest.mark.parametrize(
    "tpp, io, paragraph",
    [
        (4800, 600, "3A090.a"),
        (4799.9, 600, None),
        (4800, 599.9, None),
        (4799.9, 599.9, None),
        (15832, 900, "3A090.a"),
    ],
)
def test_2022_rule_needs_tpp_4800_and_io_600(tpp, io, paragraph):
    result = classify(Spec(tpp=tpp, io_bandwidth=io), RULE_2022)
    assert result.paragraph == paragraph
    assert result.rule == "87 FR 62186"
    assert result.license_exception == ()


def test_2022_rule_with_unknown_io_raises_when_tpp_qualifies():
    with pytest.raises(InsufficientSpec) as error:
        classify(Spec(tpp=5000), RULE_2022)
    assert error.value.missing == ["io_bandwidth"]
    assert "3A090.a" in str(error.value)


def test_2022_rule_tolerates_unknown_io_below_the_tpp_line():
    assert classify(Spec(tpp=4000), RULE_2022).eccn is None


def test_2022_rule_ignores_datacenter_and_density():
    assert classify(Spec(tpp=1700, die_area=100, datacenter=True, io_bandwidth=900), RULE_2022).eccn is None


# ---------------------------------------------------------------- 88 FR 73458


def dc(tpp, pd):
    """A datacenter chip with the given TPP and performance density (area = TPP / PD)."""
    return Spec(tpp=tpp, die_area=tpp / pd, datacenter=True)


@pytest.mark.parametrize(
    "tpp, pd, paragraph",
    [
        # a.1: TPP >= 4800, whatever the density
        (4800, 1.0, "3A090.a.1"),
        (4799.9, 1.0, None),
        # a.2: TPP >= 1600 and PD >= 5.92
        (1600, 5.92, "3A090.a.2"),
        (1599.9, 5.92, None),
        (1600, 5.919, "3A090.b.2"),
        # b.1: 2400 <= TPP < 4800 and 1.6 <= PD < 5.92
        (2400, 1.6, "3A090.b.1"),
        (2399.9, 1.6, None),
        (2400, 1.599, None),
        (4799.9, 5.919, "3A090.b.1"),
        (4799.9, 5.92, "3A090.a.2"),
        # b.2: TPP >= 1600 and 3.2 <= PD < 5.92
        (1600, 3.2, "3A090.b.2"),
        (1600, 3.199, None),
        (2399.9, 3.2, "3A090.b.2"),
        (2399.9, 3.199, None),
    ],
)
def test_2023_rule_boundaries_for_datacenter_chips(tpp, pd, paragraph):
    result = classify(dc(tpp, pd), RULE_2023)
    assert result.paragraph == paragraph
    assert result.eccn == (paragraph[:7] if paragraph else None)


@pytest.mark.parametrize(
    "tpp, pd, paragraph, exceptions",
    [
        # Note 2: non-datacenter items below 4800 are outside 3A090 whatever the density
        (4799.9, 10.0, None, ()),
        (2400, 3.0, None, ()),
        # at 4800 Note 2 no longer applies; NAC: .a non-datacenter with TPP >= 4800
        (4800, 10.0, "3A090.a.1", ("NAC",)),
    ],
)
def test_2023_datacenter_note_2_and_nac(tpp, pd, paragraph, exceptions):
    result = classify(Spec(tpp=tpp, die_area=tpp / pd, datacenter=False), RULE_2023)
    assert (result.paragraph, result.license_exception) == (paragraph, exceptions)


def test_2023_nac_for_datacenter_b_items_and_not_for_datacenter_a_items():
    assert classify(dc(3000, 2.0), RULE_2023).license_exception == ("NAC",)
    assert classify(dc(5000, 2.0), RULE_2023).license_exception == ()


def test_nac_aca_split_on_2024_04_04():
    assert classify(dc(3000, 2.0), date(2024, 4, 3)).license_exception == ("NAC",)
    assert classify(dc(3000, 2.0), date(2024, 4, 4)).license_exception == ("NAC", "ACA")


def test_2023_rule_drops_the_io_prong():
    result = classify(Spec(tpp=4800, io_bandwidth=0, datacenter=True), RULE_2023)
    assert result.paragraph == "3A090.a.1"


def test_2023_rule_needs_density_between_1600_and_4800():
    with pytest.raises(InsufficientSpec) as error:
        classify(Spec(tpp=2000, datacenter=True), RULE_2023)
    assert error.value.missing == ["performance_density"]
    assert error.value.needed_for == "3A090.a.2"


def test_2023_rule_needs_the_datacenter_flag_when_note_2_could_apply():
    with pytest.raises(InsufficientSpec) as error:
        classify(Spec(tpp=2000, die_area=100), RULE_2023)
    assert error.value.missing == ["datacenter"]


def test_2023_rule_needs_the_datacenter_flag_for_nac_eligibility():
    with pytest.raises(InsufficientSpec, match="License Exception NAC"):
        classify(Spec(tpp=6000), RULE_2023)


def test_non_datacenter_chip_needs_no_density_below_4800():
    assert classify(Spec(tpp=2000, datacenter=False), RULE_2023).eccn is None


def test_tpp_is_always_needed():
    with pytest.raises(InsufficientSpec, match="TPP unknown"):
        classify(chip("mi308x"), RULE_2023)


# ---------------------------------------------------------------- 89 FR 96790 (3A090.c)


@pytest.mark.parametrize(
    "density, paragraph, exceptions",
    [(2.0, None, ()), (2.01, "3A090.c", ("HBM",)), (3.29, "3A090.c", ("HBM",)), (3.3, "3A090.c", ())],
)
def test_hbm_stacks_from_2024_12_02(density, paragraph, exceptions):
    result = classify(HbmStack(density), RULE_HBM)
    assert (result.paragraph, result.license_exception) == (paragraph, exceptions)


def test_hbm_not_controlled_the_day_before():
    assert classify(HbmStack(3.0), date(2024, 12, 1)).eccn is None


# ---------------------------------------------------------------- catalog chips, as the reference classifies them


@pytest.mark.parametrize(
    "key, in_2022, in_2023",
    [
        ("a100-sxm", "3A090.a", "3A090.a.1"),
        ("a800-sxm", None, "3A090.a.1"),
        ("h100-sxm", "3A090.a", "3A090.a.1"),
        ("h800-sxm", None, "3A090.a.1"),
        ("h800-pcie", None, "3A090.a.1"),
        ("h20", None, None),
        ("l40s", None, "3A090.a.1"),
        ("l40", None, "3A090.b.1"),
        ("l20", None, None),
        ("l4", None, "3A090.a.2"),
        ("l2", None, None),
        ("rtx-4090", None, "3A090.a.1"),
        ("rtx-4090-d", None, None),
        ("rtx-5090-d", None, None),
        ("gaudi2", "3A090.a", "3A090.a.1"),
    ],
)
def test_catalog_chips_under_both_rules(key, in_2022, in_2023):
    assert classify(chip(key), LAST_DAY_2022_RULE).paragraph == in_2022
    assert classify(chip(key), RULE_2023).paragraph == in_2023


def test_rtx_4090_is_nac_eligible_as_a_non_datacenter_part():
    assert classify(chip("rtx-4090"), RULE_2023).license_exception == ("NAC",)


# ---------------------------------------------------------------- DeepSeek-V3's H800


def test_h800_not_3a090_under_2022_rule_because_nvlink_is_below_600():
    result = classify(chip("h800-sxm"), LAST_DAY_2022_RULE)
    assert result.eccn is None
    io_step = next(s for s in result.explanation if s.test.startswith("aggregate bidirectional I/O"))
    assert (io_step.value, io_step.operator, io_step.limit, io_step.result) == (528, ">=", 600, False)
    assert io_step.citation == "87 FR 62186, 3A090.a"


def test_h800_is_3a090_a1_from_2023_11_17():
    result = classify(chip("h800-sxm"), RULE_2023)
    assert (result.eccn, result.paragraph, result.rule) == ("3A090.a", "3A090.a.1", "88 FR 73458")
    assert result.tpp == pytest.approx(15831.2)
    assert result.performance_density == pytest.approx(19.4486, abs=1e-4)
    assert result.license_exception == ()


def test_explanation_steps_name_threshold_value_operator_result_and_citation():
    data = classify(chip("h800-sxm"), RULE_2023).to_dict()
    a1 = [s for s in data["explanation"] if s["citation"] == "88 FR 73458, 3A090.a.1"]
    assert a1 == [
        {"test": "TPP >= 4800", "value": 15831.2, "operator": ">=", "limit": 4800, "result": True,
         "citation": "88 FR 73458, 3A090.a.1"}
    ]
    assert data["as_of"] == "2023-11-17"
    assert data["spec"]["chip"] == "h800-sxm"


def test_classification_is_deterministic():
    assert classify(chip("l40"), RULE_2023).to_dict() == classify(chip("l40"), RULE_2023).to_dict()
