"""telemetry_integrity: refused reports, clock skew, impossible values, contradictory versions,
hardware swapped without a reboot."""
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from compliance.models import Finding
from inventory.models import IngestRejection
from tests.reports import signed_post

from .conftest import answer, findings, own_identity

pytestmark = pytest.mark.django_db


def test_bad_signatures_and_replays_are_found(fleet, sg_cluster):
    node = fleet.node(sg_cluster, "gpu-tampered")
    node.report("hgx-h100")
    forged = node.build("hgx-h100")
    assert signed_post(fleet.client, forged, Ed25519PrivateKey.generate()).status_code == 401
    replayed = node.build("hgx-h100")
    replayed["sequence"] = 0
    assert signed_post(fleet.client, replayed, node.key).status_code == 409
    node.report("hgx-h100")
    by_reason = {f.evidence["figures"]["reason"]: f for f in findings("telemetry_integrity.refused_reports")}
    assert by_reason["bad_signature"].severity == Finding.Severity.HIGH
    assert by_reason["sequence_regression"].severity == Finding.Severity.MEDIUM
    rejection = IngestRejection.objects.get(reason="bad_signature")
    assert by_reason["bad_signature"].evidence["figures"]["last_rejection_id"] == rejection.id


def test_signed_values_no_column_can_hold_are_found(fleet, sg_cluster, postgres_url):
    """PostgreSQL only: SQLite stores any integer, so there the report is simply accepted."""
    node = fleet.node(sg_cluster, "gpu-absurd")
    node.report("hgx-h100")
    absurd = node.build("hgx-h100")
    absurd["telemetry"]["gpus"][0]["temperature_c"] = 2 ** 40
    response = signed_post(fleet.client, absurd, node.key)
    assert response.status_code == 400 and response.json()["error"] == "unstorable_value"
    node.report("hgx-h100")
    (finding,) = [f for f in findings("telemetry_integrity.refused_reports")
                  if f.evidence["figures"]["reason"] == "unstorable_value"]
    assert finding.severity == Finding.Severity.MEDIUM


def test_near_miss_a_resent_report_is_not_a_rejection(fleet, sg_cluster):
    node = fleet.node(sg_cluster, "gpu-resend")
    report = node.build("hgx-h100")
    with fleet.capture(execute=True):
        assert signed_post(fleet.client, report, node.key).status_code == 201
        assert signed_post(fleet.client, report, node.key).status_code == 200
    assert findings("telemetry_integrity.refused_reports") == []


@pytest.mark.parametrize("skew_seconds, raised", [(-3600, True), (-120, False)])
def test_clock_skew_beyond_the_limit(fleet, sg_cluster, skew_seconds, raised):
    node = fleet.node(sg_cluster, "gpu-skewed")
    observation_id = node.report("hgx-h100", skew=timedelta(seconds=skew_seconds))
    skewed = findings("telemetry_integrity.clock_skew")
    assert bool(skewed) is raised
    if raised:
        assert skewed[0].severity == Finding.Severity.MEDIUM
        assert skewed[0].evidence["observation_ids"] == [observation_id]
        assert skewed[0].evidence["figures"]["worst_skew_seconds"] == pytest.approx(3600, abs=1)


@pytest.mark.parametrize("power_mw, sm_clock, raised", [(1_200_000, 1400, True), (500_000, 2500, True),
                                                         (900_000, 1980, False)])
def test_impossible_power_and_clocks(fleet, sg_cluster, power_mw, sm_clock, raised):
    node = fleet.node(sg_cluster, "gpu-impossible")
    snapshot = node.profile("hgx-h100")
    answer(snapshot, "nvmlDeviceGetPowerUsage", power_mw, gpus={2})
    answer(snapshot, "nvmlDeviceGetClockInfo", sm_clock, gpus={2}, args=(1,))
    observation_id = node.report(snapshot)
    impossible = findings("telemetry_integrity.impossible_values")
    assert bool(impossible) is raised
    if raised:
        assert impossible[0].severity == Finding.Severity.MEDIUM
        assert impossible[0].evidence["observation_ids"] == [observation_id]
        [model] = impossible[0].evidence["figures"]["by_model"]
        assert model["catalog_model"] == "h100-sxm" and model["power_limit_w"] == pytest.approx(1050)


def test_nvml_version_of_another_driver(fleet, sg_cluster):
    node = fleet.node(sg_cluster, "gpu-versions")
    observation_id = node.report(answer(node.profile("hgx-h100"), "nvmlSystemGetNVMLVersion", "12.535.183.01"))
    [finding] = findings("telemetry_integrity.version_mismatch")
    assert finding.severity == Finding.Severity.MEDIUM
    assert finding.evidence["observation_ids"] == [observation_id]
    assert finding.evidence["figures"] == {"driver_version": "550.54.15", "nvml_version": "12.535.183.01"}


@pytest.mark.parametrize("reboot, raised", [(False, True), (True, False)])
def test_all_gpus_replaced(fleet, sg_cluster, reboot, raised):
    node = fleet.node(sg_cluster, "gpu-swapped")
    before = node.report("hgx-h100")
    other_gpus = own_identity(node.profile("hgx-h100"), "another machine")
    after = node.report(other_gpus, boot_id="c" * 32 if reboot else None)
    swapped = findings("telemetry_integrity.hardware_swap")
    assert bool(swapped) is raised
    if raised:
        assert swapped[0].severity == Finding.Severity.HIGH
        assert swapped[0].evidence["observation_ids"] == [before, after]
