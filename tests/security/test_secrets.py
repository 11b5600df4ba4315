"""Enrollment secrets are stored as SHA-256 only and never reach a log, a response or any table.
The secret test logs at DEBUG with DEBUG=True, so every SQL statement and its parameters are
logged too: a secret that ever went into a query would show.

API tokens are stored as SHA-256 too (compliance.access.services) and looked up by digest, so the
token test can log SQL as well: the plaintext reaches no query."""
import hashlib
import io
import json
import logging

import pytest
from chipwatch_agent import protocol
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command

from inventory.models import EnrollmentSecret
from inventory.services.enrollment import enrollment_secret_create
from tests.reports import minimal_report, signed_post

pytestmark = pytest.mark.django_db


def test_enrollment_secret_is_hashed_and_never_logged_or_echoed(client, cluster, caplog, settings):
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")  # Django's "django" logger stops at INFO
    record, secret = enrollment_secret_create(label="fleet", cluster=cluster)
    key = Ed25519PrivateKey.generate()
    body = {"secret": secret, "public_key": protocol.public_key_b64(key), "hostname": "gpu-node-07",
            "machine_id": "b" * 32}
    answers = [
        client.post("/api/v1/agents/enroll", json.dumps(dict(body, public_key="not-a-key")), "application/json"),
        client.post("/api/v1/agents/enroll", json.dumps(dict(body, secret=secret[:-1])), "application/json"),
        client.post("/api/v1/agents/enroll", json.dumps(body), "application/json"),
    ]
    assert [a.status_code for a in answers] == [400, 401, 201]
    agent_id = answers[-1].json()["agent_id"]
    report = minimal_report(agent_id)
    assert signed_post(client, report, key).status_code == 201
    assert signed_post(client, report, Ed25519PrivateKey.generate()).status_code in (200, 401)

    assert EnrollmentSecret.objects.get(pk=record.pk).secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert any(r.name == "django.db.backends" for r in caplog.records), "SQL logging was captured"
    logged = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    database = io.StringIO()
    call_command("dumpdata", stdout=database)
    for where, text in (("logs", logged), ("responses", b"".join(a.content for a in answers).decode()),
                        ("database", database.getvalue())):
        assert secret not in text and secret[:-1] not in text, f"the enrollment secret is in the {where}"


def test_report_signatures_and_tokens_stay_out_of_the_logs(client, enrolled_agent, users, caplog, settings):
    """An auditor's API token (Authorization header) and an agent's signature are request
    headers: refusals are logged by path, never with headers (at production's log levels)."""
    from compliance.access.services import api_token_create

    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    agent, key = enrolled_agent
    report = minimal_report(str(agent.id))
    signature = protocol.sign(key, report)
    refused = client.post("/api/v1/reports", data=b"{", content_type="application/json",
                          HTTP_X_CHIPWATCH_AGENT=str(agent.id), HTTP_X_CHIPWATCH_SIGNATURE=signature)
    assert refused.status_code == 400
    _, token = api_token_create(user=users["no_role"])
    assert client.get("/api/v1/findings/999999", HTTP_AUTHORIZATION=f"Token {token}").status_code in (403, 404)
    assert client.get("/api/v1/findings", HTTP_AUTHORIZATION=f"Token {token}x").status_code == 401
    logged = caplog.text
    assert "Bad Request: /api/v1/reports" in logged  # the refusal was logged...
    assert signature not in logged and token not in logged  # ...without its credentials
