"""Cluster scoring: the DeepSeek-V3 cluster, supercomputer lines, explained additive risk."""

from datetime import date

import pytest

from compliance.core.catalog import H100_TPP, chip
from compliance.core.classify import Spec
from compliance.core.regimes import SUPERCOMPUTER_FP32, SUPERCOMPUTER_FP64
from compliance.core.scoring import LicenceGap, score_cluster

DEEPSEEK = [(chip("h800-sxm"), 2048)]
# What the licence determination says of that cluster in China with no licence on record.
UNLICENSED = LicenceGap(("h800-sxm",), "presumption of denial", "88 FR 73458, 15 CFR 742.6(a)(6)")


def test_deepseek_v3_cluster_figures():
    score = score_cluster(DEEPSEEK, as_of=date(2023, 11, 17))
    assert score.gpus_by_model == (("h800-sxm", 2048),)
    assert score.aggregate_tpp == pytest.approx(32.4e6, rel=0.002)  # "~32.4 million TPP"
    assert score.h100_equivalents == pytest.approx(2048, abs=0.2)
    # 2,048 x ~1 TF FP64 = 2 PF; 2,048 x ~67 TF FP32 = 137 PF: below 100 / 200
    assert score.fp64_petaflops == pytest.approx(2.048)
    assert score.fp32_petaflops == pytest.approx(137.216)
    assert (score.supercomputer_fp64, score.supercomputer_fp32) == (False, False)


def test_deepseek_cluster_controlled_only_from_2023_11_17():
    before = score_cluster(DEEPSEEK, as_of=date(2023, 11, 16))
    after = score_cluster(DEEPSEEK, as_of=date(2023, 11, 17), licence_gap=UNLICENSED)
    assert (before.controlled_gpus, before.controlled_share) == (0, 0.0)
    assert (after.controlled_gpus, after.controlled_share) == (2048, 1.0)
    assert before.risk_score == 24
    assert after.risk_score == 84


def test_risk_points_are_explained_and_sum_to_the_score():
    score = score_cluster(DEEPSEEK, as_of=date(2023, 11, 17), licence_gap=UNLICENSED)
    assert [(c.points, c.citation) for c in score.contributions] == [
        (35, "88 FR 73458, ECCN 3A090"),
        (25, "88 FR 73458, 15 CFR 742.6(a)(6)"),
        (14, "87 FR 62186, 15 CFR 772.1 'supercomputer'"),
        (10, "90 FR 4544, License Exception LPP"),
    ]
    assert sum(c.points for c in score.contributions) == score.risk_score


def test_licence_gap_from_the_determination_is_the_unlicensed_contribution():
    assert score_cluster(DEEPSEEK, as_of=date(2024, 1, 1)).risk_score == 59
    gap = score_cluster(DEEPSEEK, as_of=date(2024, 1, 1), licence_gap=UNLICENSED)
    assert gap.risk_score == 84
    assert gap.contributions[1].reason == "licence required and none on record for h800-sxm (presumption of denial)"
    # A chip outside 3A090 that needs a licence by notice scores the gap too (the H20 case).
    h20 = score_cluster([(chip("h20"), 8)], as_of=date(2025, 6, 1),
                        licence_gap=LicenceGap(("h20",), "not published (is-informed notice)", "notice"))
    assert h20.controlled_gpus == 0 and h20.risk_score == 25


@pytest.mark.parametrize("count, fp64_met", [(1492, False), (1493, True)])
def test_supercomputer_fp64_line(count, fp64_met):
    # H100 SXM FP64 67 TF: 1,492 GPUs = 99.96 PF, 1,493 = 100.03 PF
    score = score_cluster([(chip("h100-sxm"), count)], as_of=date(2024, 1, 1))
    assert score.supercomputer_fp64 is fp64_met
    assert score.supercomputer_fp32 is False
    assert SUPERCOMPUTER_FP64.limit == 100 and SUPERCOMPUTER_FP32.limit == 200


def test_supercomputer_fp32_line_at_200():
    assert SUPERCOMPUTER_FP32.holds(200) and not SUPERCOMPUTER_FP32.holds(199.99)
    score = score_cluster([(chip("b200"), 2500)], as_of=date(2025, 1, 1))  # 2,500 x 80 TF = 200 PF
    assert score.fp32_petaflops == pytest.approx(200)
    assert score.supercomputer_fp32 is True
    assert next(c for c in score.contributions if "supercomputer" in c.reason).points == 20


def test_mixed_fleet_share_unknowns_and_gp10():
    score = score_cluster(
        [(chip("l20"), 6), (chip("h100-sxm"), 2), (chip("ascend-910c"), 2), (chip("mi308x"), 2), (chip("l20"), 0)],
        as_of=date(2025, 6, 1), licence_gap=LicenceGap(("ascend-910c", "h100-sxm"), None, "test"),
    )
    assert score.gpus_by_model == (("ascend-910c", 2), ("h100-sxm", 2), ("l20", 6), ("mi308x", 2))
    assert score.gpu_count == 12
    assert score.controlled_gpus == 4
    assert score.controlled_share == pytest.approx(4 / 12, abs=1e-4)
    assert score.unclassified_models == ("mi308x",)
    assert score.tpp_unknown_models == ("mi308x",)
    assert score.models_without_fp64_fp32 == ("ascend-910c", "l20", "mi308x")
    assert score.aggregate_tpp == pytest.approx(2 * 12800 + 2 * 15831.2 + 6 * 1912)
    assert [c.points for c in score.contributions] == [12, 25, 5, 5]
    assert score.risk_score == 47


def test_h100_equivalents_use_the_catalog_divisor():
    score = score_cluster([(chip("b200"), 10)], as_of=date(2025, 1, 1))
    assert score.h100_equivalents == pytest.approx(360000 / H100_TPP, abs=1e-4)


def test_empty_fleet_scores_zero():
    score = score_cluster([], as_of=date(2025, 1, 1))
    assert (score.gpu_count, score.risk_score, score.contributions) == (0, 0, ())


def test_negative_counts_are_rejected():
    with pytest.raises(ValueError):
        score_cluster([(chip("h20"), -1)], as_of=date(2025, 1, 1))


def test_same_inputs_give_the_same_dict_regardless_of_order():
    fleet = [(chip("h100-sxm"), 8), (chip("l40"), 4), (chip("rtx-4090"), 2)]
    first = score_cluster(fleet, as_of=date(2025, 1, 1)).to_dict()
    second = score_cluster(list(reversed(fleet)), as_of=date(2025, 1, 1)).to_dict()
    assert first == second
    assert list(first["gpus_by_model"]) == ["h100-sxm", "l40", "rtx-4090"]
    assert first["risk_score"] == sum(c["points"] for c in first["contributions"])
    assert first["supercomputer"]["fp64"] == {
        "met": False, "threshold": "FP64 petaflops >= 100", "citation": "87 FR 62186, 15 CFR 772.1 'supercomputer'"}


def test_spec_from_chip_carries_what_3a090_reads():
    spec = Spec.from_chip(chip("h20"))
    assert (spec.tpp, spec.die_area, spec.io_bandwidth, spec.dram_bandwidth, spec.datacenter) == (
        2368, 814, 1028, 4000, True)
