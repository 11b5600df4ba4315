"""Server nonce → agent (recorded structures) → signed report through the real ingest → verified evidence →
facts attested → an attested/reported mismatch raises a critical identity finding.

NVIDIA's sample cannot be re-signed for a fresh nonce, so the server side registers the sample's own nonce as one
it issued to this agent; the nonce endpoint itself is exercised with a fresh nonce.
"""
from __future__ import annotations

import base64
import json
from datetime import timedelta
from importlib import resources

import pytest
from chipwatch_agent import protocol
from django.utils import timezone

from compliance.attestation import services
from compliance.attestation.models import AttestationNonce, AttestationRecord
from compliance.models import Finding
from compliance.services import cluster_audit_report
from inventory.models import Gpu
from tests.reports import signed_post

from .agent_side import collected_report
from .evidence import SAMPLE_NONCE

pytestmark = pytest.mark.django_db

SAMPLE_VBIOS, SAMPLE_DRIVER = "96.00.9F.00.01", "550.90.07"


def request_nonce(client, agent, key, *, body: dict | None = None, signature: str | None = None):
    body = body if body is not None else {"agent_id": str(agent.id), "requested_at": timezone.now().isoformat()}
    return client.post("/api/v1/attestation/nonces", data=protocol.canonical_json(body),
                       content_type="application/json", HTTP_X_CHIPWATCH_AGENT=str(agent.id),
                       HTTP_X_CHIPWATCH_SIGNATURE=signature if signature is not None else protocol.sign(key, body))


def register_sample_nonce(agent, *, expires_in=timedelta(minutes=15)) -> AttestationNonce:
    now = timezone.now()
    return AttestationNonce.objects.create(nonce=SAMPLE_NONCE.hex(), agent=agent, issued_at=now,
                                           expires_at=now + expires_in)


def deliver(client, agent, key, capture, *, sequence=0, **profile):
    report = collected_report(str(agent.id), nonce=SAMPLE_NONCE, sequence=sequence, **profile)
    with capture(execute=True):
        response = signed_post(client, report, key)
    assert response.status_code == 201, response.content
    return response.json()["observation_id"]


def gpu0(agent) -> Gpu:
    return Gpu.objects.get(host=agent.host, index=0)


def test_nonce_endpoint_issues_fresh_single_nonce_per_agent(client, enrolled_agent):
    agent, key = enrolled_agent
    first = request_nonce(client, agent, key)
    assert first.status_code == 201, first.content
    nonce = first.json()["attestation_nonce"]
    assert len(bytes.fromhex(nonce)) == 32
    assert request_nonce(client, agent, key).json()["attestation_nonce"] == nonce  # held, not piled up
    assert AttestationNonce.objects.filter(agent=agent).count() == 1


@pytest.mark.parametrize("case, status, code", [("bad_signature", 401, "bad_signature"),
                                                 ("other_agent", 400, "agent_mismatch"),
                                                 ("revoked", 403, "agent_revoked")])
def test_nonce_endpoint_refusals(client, enrolled_agent, case, status, code):
    agent, key = enrolled_agent
    body = {"agent_id": str(agent.id), "requested_at": "2026-12-01T00:00:00Z"}
    kwargs = {}
    if case == "bad_signature":
        kwargs["signature"] = protocol.sign(key, {**body, "requested_at": "2026-12-02T00:00:00Z"})
    elif case == "other_agent":
        kwargs["body"] = {**body, "agent_id": "00000000-0000-4000-8000-000000000000"}
    else:
        agent.revoked_at = timezone.now()
        agent.save(update_fields=["revoked_at"])
    response = request_nonce(client, agent, key, **({"body": body} | kwargs))
    assert (response.status_code, response.json()["error"]) == (status, code)
    assert not AttestationNonce.objects.exists()


def test_honest_host_gpu_becomes_attested_and_shown_as_such(client, enrolled_agent, django_capture_on_commit_callbacks,
                                                             admin_client):
    agent, key = enrolled_agent
    issued = register_sample_nonce(agent)
    observation_id = deliver(client, agent, key, django_capture_on_commit_callbacks, vbios=SAMPLE_VBIOS,
                             driver=SAMPLE_DRIVER)
    record = AttestationRecord.objects.get(gpu=gpu0(agent))
    assert record.verified and record.nonce_issued, record.reasons
    assert record.observation_id == observation_id and record.chip == "GH100"
    assert record.cross_check["mismatches"] == []
    assert record.cross_check["sku"]["provenance"] == "reported"  # board 1010/0200/882 not in the shipped table
    issued.refresh_from_db()
    assert issued.consumed_by_id == observation_id
    # The other seven GPUs answered NotSupported: no record, nothing attested for them.
    assert AttestationRecord.objects.count() == 1
    assert not Finding.objects.filter(kind__startswith="attest").exists()

    view = admin_client.get(f"/api/v1/gpus/{gpu0(agent).id}/attestation").json()
    assert view["reported"]["name"] == "NVIDIA H800" and view["reported"]["provenance"] == "reported"
    assert view["attested"]["chip"] == "GH100" and view["attested"]["agrees_with_nvml"]
    facts = {f["fact"]: f for f in view["attested"]["facts"]}
    assert facts["vbios_version"] == {**facts["vbios_version"], "reported": SAMPLE_VBIOS, "attested": SAMPLE_VBIOS,
                                      "provenance": "attested", "agrees": True}

    audit = cluster_audit_report(cluster=agent.host.cluster, as_of=timezone.now().date())
    rows = {row["uuid"]: row for row in audit["inventory"]}
    assert rows[gpu0(agent).uuid]["attestation"]["record_id"] == record.id
    assert sum(1 for row in rows.values() if row["attestation"]) == 1
    share = audit["attested_compute"]
    assert (share["controlled_gpus"], share["attested_gpus"]) == (8, 1)
    assert share["attested_share"] == pytest.approx(1 / 8)
    before = cluster_audit_report(cluster=agent.host.cluster, as_of=timezone.now().date() - timedelta(days=1))
    assert before["attested_compute"]["attested_gpus"] == 0  # an audit of a passed day does not change


def test_forged_nvml_vbios_raises_a_critical_identity_finding_with_the_evidence(
        client, enrolled_agent, django_capture_on_commit_callbacks):
    agent, key = enrolled_agent
    register_sample_nonce(agent)
    observation_id = deliver(client, agent, key, django_capture_on_commit_callbacks)  # profile's own VBIOS/driver
    record = AttestationRecord.objects.get(gpu=gpu0(agent))
    assert record.verified
    assert sorted(record.cross_check["mismatches"]) == ["driver_version", "vbios_version"]
    finding = Finding.objects.get(kind="attested_identity_mismatch")
    assert finding.severity == Finding.Severity.CRITICAL and finding.subject_id == gpu0(agent).id
    assert finding.evidence["observation_ids"] == [observation_id]
    figures = finding.evidence["figures"]
    assert figures["attestation_record_id"] == record.id and figures["nonce"] == SAMPLE_NONCE.hex()
    assert {m["fact"]: m["attested"] for m in figures["mismatches"]}["vbios_version"] == SAMPLE_VBIOS
    assert "96.00.74.00.0D" in finding.title and "3A090" in finding.citation


def test_reported_h800_on_an_h100_board_is_a_critical_sku_mismatch(client, enrolled_agent, settings, tmp_path,
                                                                    django_capture_on_commit_callbacks):
    agent, key = enrolled_agent
    boards = tmp_path / "boards.yaml"
    boards.write_text('boards:\n  - {project: "1010", project_sku: "0200", chip_sku: "882", chip: h100-pcie,\n'
                      '     source: "test declaration"}\n')
    settings.CHIPWATCH_ATTESTATION_BOARDS_FILE = str(boards)
    register_sample_nonce(agent)
    deliver(client, agent, key, django_capture_on_commit_callbacks, vbios=SAMPLE_VBIOS, driver=SAMPLE_DRIVER)
    record = AttestationRecord.objects.get(gpu=gpu0(agent))
    assert record.cross_check["mismatches"] == ["sku"]
    assert record.cross_check["sku"] == {**record.cross_check["sku"], "value": "h100-pcie", "provenance": "attested"}
    finding = Finding.objects.get(kind="attested_identity_mismatch")
    assert "h800" in finding.title and "h100-pcie" in finding.title


def test_a_nonce_is_spent_once(client, enrolled_agent, django_capture_on_commit_callbacks):
    agent, key = enrolled_agent
    register_sample_nonce(agent)
    first = deliver(client, agent, key, django_capture_on_commit_callbacks, vbios=SAMPLE_VBIOS, driver=SAMPLE_DRIVER)
    deliver(client, agent, key, django_capture_on_commit_callbacks, sequence=1, vbios=SAMPLE_VBIOS,
            driver=SAMPLE_DRIVER)
    replay = AttestationRecord.objects.exclude(observation_id=first).get()
    assert not replay.verified and not replay.nonce_issued
    assert replay.reasons[0].startswith("nonce_already_used")
    assert AttestationRecord.objects.filter(verified=True).count() == 1


@pytest.mark.parametrize("setup, code", [("expired", "nonce_expired"), ("never_issued", "nonce_not_issued")])
def test_unissued_or_expired_nonce_never_attests(client, enrolled_agent, django_capture_on_commit_callbacks,
                                                 setup, code):
    agent, key = enrolled_agent
    if setup == "expired":
        register_sample_nonce(agent, expires_in=-timedelta(seconds=1))
    deliver(client, agent, key, django_capture_on_commit_callbacks, vbios=SAMPLE_VBIOS, driver=SAMPLE_DRIVER)
    record = AttestationRecord.objects.get()
    assert not record.verified and record.reasons[0].startswith(code)
    assert services.observation_attestations_verify(observation_id=record.observation_id) == [record]  # once only


def test_tampered_evidence_over_our_nonce_is_a_high_finding(client, enrolled_agent,
                                                            django_capture_on_commit_callbacks):
    agent, key = enrolled_agent
    register_sample_nonce(agent)
    report = collected_report(str(agent.id), nonce=SAMPLE_NONCE, vbios=SAMPLE_VBIOS, driver=SAMPLE_DRIVER)
    entry = report["attestation"][0]
    raw = bytearray(base64.b64decode(entry["report_b64"]))
    raw[60] ^= 1  # one bit inside the measurement record
    entry["report_b64"] = base64.b64encode(bytes(raw)).decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_post(client, report, key).status_code == 201
    record = AttestationRecord.objects.get()
    assert not record.verified and [r.split(":")[0] for r in record.reasons] == ["signature_invalid"]
    finding = Finding.objects.get(kind="attestation_failed")
    assert finding.severity == Finding.Severity.HIGH
    assert json.dumps(finding.evidence["figures"]["reasons"]).count("signature_invalid") == 1


def test_rims_from_the_configured_directory_are_used_and_said_so(settings, client, enrolled_agent,
                                                                 django_capture_on_commit_callbacks):
    """NVIDIA's package RIMs are for other VBIOS/driver versions than its sample: nothing applies, and the record
    says which golden values were missing instead of passing them silently."""
    agent, key = enrolled_agent
    with resources.as_file(resources.files("verifier") / "samples") as directory:
        settings.CHIPWATCH_ATTESTATION_RIM_DIR = str(directory)
        register_sample_nonce(agent)
        deliver(client, agent, key, django_capture_on_commit_callbacks, vbios=SAMPLE_VBIOS, driver=SAMPLE_DRIVER)
    record = AttestationRecord.objects.get()
    assert record.verified and record.measurements["status"] == "unchecked"
    assert {n.split(":")[0] for n in record.notes} >= {"vbios_rim_unavailable", "driver_rim_unavailable"}


def test_evidence_whose_task_was_lost_is_verified_by_the_sweeper(client, enrolled_agent, settings,
                                                                 django_capture_on_commit_callbacks):
    from compliance.attestation.tasks import sweep_pending_attestations

    agent, key = enrolled_agent
    register_sample_nonce(agent)
    report = collected_report(str(agent.id), nonce=SAMPLE_NONCE, vbios=SAMPLE_VBIOS, driver=SAMPLE_DRIVER)
    with django_capture_on_commit_callbacks(execute=False):  # the enqueue never happens: Redis lost it
        assert signed_post(client, report, key).status_code == 201
    assert not AttestationRecord.objects.exists()
    settings.CHIPWATCH_SWEEP_AFTER_SECONDS = 3600
    assert sweep_pending_attestations() == 0  # too young: its own task may still come
    settings.CHIPWATCH_SWEEP_AFTER_SECONDS = 0
    assert sweep_pending_attestations() == 1
    assert AttestationRecord.objects.get().verified
    assert sweep_pending_attestations() == 0
