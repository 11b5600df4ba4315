"""GET /api/v1/gpus/{id}/attestation: scoped like the GPU list, constant queries whatever the history."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance.attestation.models import AttestationRecord
from tests.api.fleet import api_client, family_a, family_b, users  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def attest(gpu, *, verified=True, times=1):
    for _ in range(times):
        AttestationRecord.objects.create(
            gpu=gpu, host=gpu.host, observation=gpu.last_observation, nonce="00" * 32, nonce_issued=True,
            verified=verified, chip="GH100", reasons=[] if verified else ["signature_invalid: x"], notes=[],
            binds={"device_certificate_serial": "abc"}, measurements={"status": "unchecked"},
            cross_check={"facts": [], "mismatches": [], "sku": {"provenance": "reported"}}, report_sha256="0" * 64,
            synthetic=False, verified_at=timezone.now())


def test_a_gpu_outside_the_callers_scope_is_404(users, family_a, family_b):  # noqa: F811
    gpu = family_b.gpus[0]
    attest(gpu)
    assert api_client(users["auditor_a"]).get(f"/api/v1/gpus/{gpu.id}/attestation").status_code == 404
    assert api_client(users["auditor_b"]).get(f"/api/v1/gpus/{gpu.id}/attestation").status_code == 200
    assert api_client(users["anonymous"]).get(f"/api/v1/gpus/{gpu.id}/attestation").status_code in (401, 403)


def test_unattested_gpu_says_reported_only(users, family_a):  # noqa: F811
    gpu = family_a.gpus[0]
    body = api_client(users["admin"]).get(f"/api/v1/gpus/{gpu.id}/attestation").json()
    assert body["attested"] is None and body["latest_attempt"] is None
    assert body["reported"]["provenance"] == "reported"


def test_queries_do_not_grow_with_the_attestation_history(users, family_a):  # noqa: F811
    gpu = family_a.gpus[0]
    client = api_client(users["admin"])
    url = f"/api/v1/gpus/{gpu.id}/attestation"
    attest(gpu)
    client.get(url)  # the token's first use records its last_used_at
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).json()["attested"]["chip"] == "GH100"
    attest(gpu, times=20)
    attest(gpu, verified=False)
    with CaptureQueriesContext(connection) as many:
        body = client.get(url).json()
    assert len(many) == len(few) <= 8, [q["sql"][:80] for q in many]
    assert body["latest_attempt"]["verified"] is False and body["attested"] is not None
