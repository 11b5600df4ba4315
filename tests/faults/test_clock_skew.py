"""A host whose clock is wrong: its reports are still accepted (the data is real, only the time is
off), within CHIPWATCH_CLOCK_SKEW_SECONDS silently, beyond it with a warning in the answer and a
telemetry_integrity.clock_skew finding once the host is evaluated.  The report is built by the
agent's own report builder with the skewed clock, and goes through ingest and evaluation."""
import time

import pytest
from chipwatch_agent.collector import Collector
from chipwatch_agent.nvml_fake import FakeNvml
from chipwatch_agent.report import build_report

from compliance.models import Finding
from inventory.models import Observation
from tests.reports import signed_post

pytestmark = pytest.mark.django_db
BOUND = 300


@pytest.mark.parametrize("skew_seconds, flagged", [
    (-BOUND + 5, False), (BOUND - 5, False),  # inside the bound: NTP-less but sane
    (-BOUND - 5, True), (BOUND + 5, True), (-400 * 86400, True), (50 * 365 * 86400, True),
])
def test_skewed_host_is_accepted_and_flagged_beyond_the_bound(client, enrolled_agent, settings, skew_seconds, flagged,
                                                              django_capture_on_commit_callbacks):
    settings.CHIPWATCH_CLOCK_SKEW_SECONDS = BOUND
    agent, key = enrolled_agent
    report = build_report(Collector(FakeNvml.from_profile("hgx-h800")).collect(), agent_id=str(agent.id),
                          sequence=1, backend="fake", collected_at=time.time() + skew_seconds)
    with django_capture_on_commit_callbacks(execute=True):  # the evaluation Celery runs after commit
        response = signed_post(client, report, key)
    assert response.status_code == 201
    assert Observation.objects.get().clock_skew_seconds == pytest.approx(skew_seconds, abs=30)
    warnings = response.json()["warnings"]
    skew_findings = Finding.objects.filter(kind="telemetry_integrity.clock_skew", subject_id=agent.host_id)
    if flagged:
        assert len(warnings) == 1 and "from the server clock" in warnings[0]
        [finding] = skew_findings
        assert finding.evidence["figures"]["worst_skew_seconds"] == pytest.approx(abs(skew_seconds), abs=30)
    else:
        assert warnings == [] and not skew_findings.exists()
