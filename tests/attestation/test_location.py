"""A landmark's challenge answered with GPU evidence over the round's own nonce: the verdict rests on the attested
GPU ("GPU-attested"), not only on the agent key ("host-signed").

The round nonce is NVIDIA's sample nonce (the sample cannot be re-signed), so the challenge is registered with the
sample nonce's first half, as the landmark protocol puts a challenge prefix in front of each round's 16 random bytes.
"""
from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from chipwatch_agent import challenge as wire
from django.utils import timezone

from compliance.location import services as location
from compliance.location.landmark import MEASUREMENT_SCHEMA
from compliance.location.models import Challenge
from tests.location.conftest import landmarks, signed_post  # noqa: F401  (fixture)

from .evidence import SAMPLE_NONCE, sample_report
from .test_end_to_end import SAMPLE_DRIVER, SAMPLE_VBIOS, deliver, register_sample_nonce

pytestmark = pytest.mark.django_db


def answer_challenge(client, landmark, agent, key, *, report: bytes, nonce: bytes = SAMPLE_NONCE, gpu_index: int = 0):
    Challenge.objects.create(landmark=landmark.row, agent=agent, nonce=nonce[:16].hex(),
                             issued_at=timezone.now(), expires_at=timezone.now() + timedelta(minutes=10))
    evidence = {"gpu_index": gpu_index, "report_b64": base64.b64encode(report).decode(), "synthetic": False}
    body = {"schema": MEASUREMENT_SCHEMA, "landmark_id": landmark.row.pk, "agent_id": str(agent.id),
            "challenge_nonce": nonce[:16].hex(), "measured_at": datetime.now(dt_timezone.utc).isoformat(),
            "rounds": [{"nonce": nonce.hex(), "rtt_ms": 1.4, "signature": wire.sign_nonce(key, nonce),
                        "gpu_evidence": evidence}]}
    response = signed_post(client, "measurements", body, landmark.private_key)
    assert response.status_code == 201, response.json()


def test_a_round_signed_by_an_attested_gpu_makes_the_bound_gpu_attested(
        client, landmarks, enrolled_agent, django_capture_on_commit_callbacks):  # noqa: F811
    agent, key = enrolled_agent
    register_sample_nonce(agent)
    deliver(client, agent, key, django_capture_on_commit_callbacks, vbios=SAMPLE_VBIOS, driver=SAMPLE_DRIVER)
    answer_challenge(client, landmarks["SIN"], agent, key, report=sample_report())
    located = location.host_location(host=agent.host)
    assert located.proof["basis"] == "GPU-attested", located.proof
    (proof,) = located.proof["measurements"]
    assert proof["device_certificate_serial"] == "53c22ba15e5d68088282da074ed9fb37aa585771"


def test_without_an_attested_gpu_or_with_replayed_evidence_the_bound_is_host_signed(
        client, landmarks, enrolled_agent, django_capture_on_commit_callbacks):  # noqa: F811
    agent, key = enrolled_agent
    answer_challenge(client, landmarks["SIN"], agent, key, report=sample_report())
    located = location.host_location(host=agent.host)
    assert located.proof["basis"] == "host-signed"
    assert "no verified attestation" in located.proof["measurements"][0]["reason"]

    register_sample_nonce(agent)
    deliver(client, agent, key, django_capture_on_commit_callbacks, vbios=SAMPLE_VBIOS, driver=SAMPLE_DRIVER)
    # An old GPU answer relayed for a new round: the GPU signed another nonce.
    answer_challenge(client, landmarks["HKG"], agent, key, report=sample_report(), nonce=os.urandom(32))
    located = location.host_location(host=agent.host)
    proofs = {p["measurement_id"]: p for p in located.proof["measurements"]}
    assert located.proof["basis"] == "mixed"  # SIN's evidence now checks against the attested GPU; HKG's does not
    assert sorted(p["proof"] for p in proofs.values()) == ["GPU-attested", "host-signed"]
    assert any("nonce_mismatch" in p.get("reason", "") for p in proofs.values())
