"""The pure accounting, estimate and run-detection rules (compliance/compute/model.py), on
hand-made telemetry whose answers are known."""
from datetime import datetime, timedelta, timezone

import pytest

from compliance.compute.model import (
    Hour, OpsRange, Rules, Sample, ThresholdDataError, Verdict, account, detect_runs, estimate_ops, load_thresholds,
)
from compliance.core.catalog import chip

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
RULES = Rules(max_gap_seconds=300, skew_tolerance_seconds=300, training_utilization_pct=80)
H800 = dict(chip("h800-sxm").rates)


def series(gpu_id=1, *, minutes, util=100, energy_step_mj=60_000_000, start=T0, skew=timedelta(0),
           first_id=1, energy0=0, delay=timedelta(0)):
    """One sample a minute for `minutes`+1 readings; energy rises by `energy_step_mj` a minute
    (60,000 J a minute = 1 kW).  `skew` moves the agent clock, `delay` the receipt."""
    return [Sample(id=first_id + m, gpu_id=gpu_id, chip="NVIDIA H800", collected_at=start + timedelta(minutes=m) + skew,
                   received_at=start + timedelta(minutes=m) + delay, utilization_pct=util,
                   energy_mj=energy0 + m * energy_step_mj)
            for m in range(minutes + 1)]


def totals(usage):
    return {key: value for key, value in vars(usage).items()}


def test_steady_two_hours_split_into_hour_buckets():
    out = account(series(minutes=120), start=T0, end=T0 + timedelta(hours=2), rules=RULES)
    assert sorted(out) == [(T0, "NVIDIA H800"), (T0 + timedelta(hours=1), "NVIDIA H800")]
    first = out[(T0, "NVIDIA H800")]
    assert (first.gpus, first.samples, first.gpu_seconds, first.busy_gpu_seconds) == (1, 60, 3600, 3600)
    assert first.energy_j == pytest.approx(3_600_000)  # 1 kW for an hour
    assert (first.training_gpus, first.gaps, first.counter_resets) == (1, 0, 0)
    assert (first.first_sample_id, first.last_sample_id) == (1, 61)


def test_gap_longer_than_the_bound_is_not_running():
    samples = series(minutes=30) + series(minutes=20, start=T0 + timedelta(minutes=40), first_id=100,
                                          energy0=40 * 60_000_000)
    usage = account(samples, start=T0, end=T0 + timedelta(hours=1), rules=RULES)[(T0, "NVIDIA H800")]
    assert usage.gpu_seconds == 50 * 60  # 30 + 20 one-minute intervals; the 10-minute hole is not counted
    assert (usage.gaps, usage.gap_seconds) == (1, 600)
    assert usage.energy_j == pytest.approx(50 * 60_000)
    assert usage.training_gpus == 1  # 3,000 busy seconds of 3,600: above the 80 % bar


def test_gap_within_the_bound_counts():
    samples = [s for s in series(minutes=60) if s.id not in (11, 12, 13)]  # a 4-minute interval
    usage = account(samples, start=T0, end=T0 + timedelta(hours=1), rules=RULES)[(T0, "NVIDIA H800")]
    assert (usage.gpu_seconds, usage.gaps, usage.samples) == (3600, 0, 57)


def test_energy_counter_reset_counts_what_came_after_it():
    samples = series(minutes=10)
    reset = [Sample(id=s.id, gpu_id=1, chip=s.chip, collected_at=s.collected_at, received_at=s.received_at,
                    utilization_pct=100, energy_mj=s.energy_mj if s.id <= 6 else (s.id - 6) * 30_000_000)
             for s in samples]
    usage = account(reset, start=T0, end=T0 + timedelta(hours=1), rules=RULES)[(T0, "NVIDIA H800")]
    assert usage.counter_resets == 1
    # 5 intervals at 60 kJ before the reset, 30 kJ shown by the first reading after it, then 4 x 30 kJ.
    assert usage.energy_j == pytest.approx(5 * 60_000 + 30_000 + 4 * 30_000)


def test_clock_ahead_of_the_server_is_placed_at_receipt():
    samples = series(minutes=60, skew=timedelta(hours=2))
    out = account(samples, start=T0, end=T0 + timedelta(hours=4), rules=RULES)
    assert list(out) == [(T0, "NVIDIA H800")]  # not in the 02:00 bucket the agent clock claims
    usage = out[(T0, "NVIDIA H800")]
    assert (usage.gpu_seconds, usage.skew_corrected) == (3600, 60)


def test_late_delivery_keeps_the_agent_clock():
    samples = series(minutes=60, delay=timedelta(hours=3))  # spooled during an outage, sent 3 h later
    out = account(samples, start=T0, end=T0 + timedelta(hours=4), rules=RULES)
    assert list(out) == [(T0, "NVIDIA H800")]
    assert (out[(T0, "NVIDIA H800")].gpu_seconds, out[(T0, "NVIDIA H800")].skew_corrected) == (3600, 0)


def test_repeated_timestamps_count_nothing():
    samples = series(minutes=10)
    duplicate = [Sample(id=100 + s.id, gpu_id=1, chip=s.chip, collected_at=s.collected_at, received_at=s.received_at,
                        utilization_pct=100, energy_mj=s.energy_mj) for s in samples]
    usage = account(samples + duplicate, start=T0, end=T0 + timedelta(hours=1), rules=RULES)[(T0, "NVIDIA H800")]
    assert (usage.gpu_seconds, usage.samples) == (600, 10)


def test_half_busy_gpu_is_not_training_like():
    usage = account(series(minutes=60, util=50), start=T0, end=T0 + timedelta(hours=1),
                    rules=RULES)[(T0, "NVIDIA H800")]
    assert (usage.busy_gpu_seconds, usage.training_gpus) == (1800, 0)


def test_estimate_bounds_and_precisions():
    ops = estimate_ops(busy_seconds=3600, unknown_util_seconds=0, rates_tflops=H800, mfu_floor=0.15)
    assert ops.by_precision["fp16"] == (pytest.approx(989.4e12 * 3600), pytest.approx(0.15 * 989.4e12 * 3600))
    assert ops.upper == pytest.approx(1978.9e12 * 3600)  # FP8 upper
    assert ops.lower == pytest.approx(0.15 * 989.4e12 * 3600)  # BF16 lower


def test_unknown_utilization_widens_only_the_upper_bound():
    ops = estimate_ops(busy_seconds=0, unknown_util_seconds=3600, rates_tflops=H800, mfu_floor=0.15)
    assert ops.lower == 0 and ops.upper == pytest.approx(1978.9e12 * 3600)


def test_chip_without_fp8_is_bounded_at_its_fp16_rate():
    ops = estimate_ops(busy_seconds=10, unknown_util_seconds=0, rates_tflops=dict(chip("a100-sxm").rates),
                       mfu_floor=0.5)
    assert ops.upper == pytest.approx(312e12 * 10)


def test_uncatalogued_chip_has_no_upper_bound():
    ops = estimate_ops(busy_seconds=10, unknown_util_seconds=0, rates_tflops=None, mfu_floor=0.15)
    assert ops.upper is None and ops.uncatalogued_busy_seconds == 10
    assert (ops + estimate_ops(busy_seconds=10, unknown_util_seconds=0, rates_tflops=H800, mfu_floor=0.15)).upper is None


def test_bad_floor_refused():
    with pytest.raises(ValueError, match="mfu_floor"):
        estimate_ops(busy_seconds=1, unknown_util_seconds=0, rates_tflops=H800, mfu_floor=0)


def test_threshold_verdicts():
    [ai_diffusion] = [t for t in load_thresholds() if t.key == "eccn-4e091"]
    assert ai_diffusion.value == 1e26 and ai_diffusion.status == "not_enforced"
    assert ai_diffusion.compare(OpsRange({}, lower=2e26, upper=3e26)) == Verdict.EXCEEDED
    assert ai_diffusion.compare(OpsRange({}, lower=1e24, upper=1e26)) == Verdict.NOT_REACHED
    assert ai_diffusion.compare(OpsRange({}, lower=1e24, upper=2e26)) == Verdict.UNDETERMINED
    assert ai_diffusion.compare(OpsRange({}, lower=1e24, upper=None)) == Verdict.UNDETERMINED


def test_thresholds_are_cited_and_dated():
    thresholds = {t.key: t for t in load_thresholds()}
    assert set(thresholds) == {"eccn-4e091", "eu-ai-act-art-51", "bis-iaas-d5-training"}
    assert "90 FR 4544" in thresholds["eccn-4e091"].citation
    assert "Art. 51(2)" in thresholds["eu-ai-act-art-51"].citation
    assert thresholds["bis-iaas-d5-training"].groups == ("D:5", "Macau")


def test_threshold_data_errors_name_the_entry(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("thresholds:\n  - {key: x, kind: operations, title: t, citation: c, effective: 2025-01-01, "
                   "status: in_force, note: n}\n")
    with pytest.raises(ThresholdDataError, match="'x'.*numeric value"):
        load_thresholds(bad)
    bad.write_text("thresholds:\n  - {key: y, kind: operations, value: 1, title: t}\n")
    with pytest.raises(ThresholdDataError, match="'y': missing citation, effective, status, note"):
        load_thresholds(bad)


# --- training runs -------------------------------------------------------------------


def hours(counts, start=T0):
    ops = OpsRange({"fp16": (1.0, 0.1)}, lower=0.1, upper=2.0)
    return [Hour(start=start + timedelta(hours=i), training_gpus=n, training_gpu_seconds=n * 3600.0, ops=ops,
                 first_sample_id=10 * i + 1, last_sample_id=10 * i + 9) for i, n in enumerate(counts)]


def test_run_with_exact_start_end_and_gpu_count():
    [run] = detect_runs(hours([0, 4, 16, 16, 16, 16, 12, 0]), min_gpus=16, min_hours=3)
    assert (run.start, run.end) == (T0 + timedelta(hours=2), T0 + timedelta(hours=6))
    assert (run.gpu_count, run.min_gpus, run.hours, run.gpu_hours) == (16, 16, 4, 64)
    assert (run.ops.lower, run.ops.upper) == (pytest.approx(0.4), pytest.approx(8.0))
    assert (run.first_sample_id, run.last_sample_id) == (21, 59)


def test_near_miss_one_gpu_below_the_bar():
    assert detect_runs(hours([15] * 48), min_gpus=16, min_hours=3) == []


def test_near_miss_too_short():
    assert detect_runs(hours([0, 16, 16, 0]), min_gpus=16, min_hours=3) == []


def test_short_interruption_does_not_end_a_run_unless_too_long():
    counts = [16, 16, 0, 16, 16]
    [run] = detect_runs(hours(counts), min_gpus=16, min_hours=3, max_interruption_hours=1)
    assert (run.hours, run.gpu_hours, run.end) == (5, 64, T0 + timedelta(hours=5))
    assert detect_runs(hours(counts), min_gpus=16, min_hours=3, max_interruption_hours=0) == []


def test_missing_bucket_breaks_a_run():
    listed = hours([16, 16, 16, 16])
    del listed[2]
    assert detect_runs(listed, min_gpus=16, min_hours=3) == []


def test_seed_case_arithmetic():
    """2,048 H800s for 1,361 hours at a 95 % duty cycle: the model's range brackets 6·N·D."""
    gpu_seconds = 2048 * 1361 * 3600
    ops = estimate_ops(busy_seconds=0.95 * gpu_seconds, unknown_util_seconds=0, rates_tflops=H800, mfu_floor=0.15)
    six_nd = 6 * 37e9 * 14.8e12
    assert gpu_seconds / 3600 == pytest.approx(2.788e6, rel=0.001)
    assert ops.lower < six_nd < ops.by_precision["fp16"][0] < ops.upper
