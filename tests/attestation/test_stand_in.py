"""The fake NVML profiles' confidential-computing answers are placeholders: a simulated host's report records them as
unverifiable stand-ins without a finding, while the same bytes in a report claiming real NVML are a failed
attestation (a high finding), as any evidence over our nonce that does not verify."""
import os

import pytest
from chipwatch_agent.collector import Collector
from chipwatch_agent.nvml_fake import FakeNvml
from chipwatch_agent.report import build_report
from django.utils import timezone

from compliance.attestation.models import AttestationNonce, AttestationRecord
from compliance.models import Finding
from tests.reports import signed_post

pytestmark = pytest.mark.django_db


def stand_in_report(agent, *, backend: str) -> dict:
    nonce = os.urandom(32)
    now = timezone.now()
    AttestationNonce.objects.create(nonce=nonce.hex(), agent=agent, issued_at=now,
                                    expires_at=now + timezone.timedelta(minutes=15))
    collection = Collector(FakeNvml.from_profile("hgx-h200")).collect(nonce)
    return build_report(collection, agent_id=str(agent.id), sequence=0, backend=backend)


@pytest.mark.parametrize("backend, finding_expected", [("fake", False), ("nvml", True)])
def test_stand_in_evidence(client, enrolled_agent, django_capture_on_commit_callbacks, backend, finding_expected):
    agent, key = enrolled_agent
    report = stand_in_report(agent, backend=backend)
    assert report["attestation"], "the hgx-h200 profile answers the CC calls"
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_post(client, report, key)
    assert response.status_code == 201, response.content
    records = AttestationRecord.objects.filter(host=agent.host)
    assert records.count() == len(report["attestation"]) and not any(r.verified for r in records)
    stand_in = [r.reasons[0].startswith("synthetic_stand_in") for r in records]
    assert all(stand_in) is not finding_expected
    assert Finding.objects.filter(kind="attestation_failed").exists() is finding_expected
