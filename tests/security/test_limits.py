"""Online guessing is slowed: an address that failed too many logins (admin or officer UI) or
presented too many bad enrollment secrets gets 429 until its window ends, even with the right
password; other addresses are unaffected.  Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE get 413 on
every endpoint, before anything reads them."""
import json

import pytest
from chipwatch_agent import protocol
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client

from inventory.models import Agent
from inventory.services.enrollment import enrollment_secret_create

pytestmark = pytest.mark.django_db
ATTACKER, BYSTANDER = "203.0.113.7", "198.51.100.20"


@pytest.fixture
def low_limits(settings):
    settings.CHIPWATCH_LOGIN_FAILURE_LIMIT = 3
    settings.CHIPWATCH_ENROLL_FAILURE_LIMIT = 3
    return settings


@pytest.mark.parametrize("login_url", ["/admin/login/", "/login/"])
def test_failed_logins_lock_out_the_address_not_the_user(client, users, low_limits, login_url):
    officer = users["officer"]
    officer.is_staff = True
    officer.save()
    right = {"username": "officer", "password": "pw-officer-chipwatch"}
    wrong = dict(right, password="guess")
    for _ in range(3):
        assert client.post(login_url, wrong, REMOTE_ADDR=ATTACKER).status_code == 200  # the form, with an error
    locked = client.post(login_url, right, REMOTE_ADDR=ATTACKER)
    assert locked.status_code == 429 and int(locked["Retry-After"]) == low_limits.CHIPWATCH_FAILURE_WINDOW_SECONDS
    assert "_auth_user_id" not in client.session
    assert client.get(login_url, REMOTE_ADDR=ATTACKER).status_code == 200  # the page itself still shows
    assert Client().post(login_url, right, REMOTE_ADDR=BYSTANDER).status_code == 302  # logged in


def test_behind_a_proxy_the_forwarded_address_counts(client, users, settings):
    settings.CHIPWATCH_LOGIN_FAILURE_LIMIT = 1
    settings.REST_FRAMEWORK = dict(settings.REST_FRAMEWORK, NUM_PROXIES=1)
    wrong = {"username": "officer", "password": "guess"}
    client.post("/login/", wrong, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=ATTACKER)
    assert client.post("/login/", wrong, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=ATTACKER).status_code == 429
    right = {"username": "officer", "password": "pw-officer-chipwatch"}
    assert client.post("/login/", right, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=BYSTANDER).status_code == 302


def enroll(client, secret: str, address: str):
    body = {"secret": secret, "public_key": protocol.public_key_b64(Ed25519PrivateKey.generate()),
            "hostname": "gpu-node", "machine_id": ""}
    return client.post("/api/v1/agents/enroll", data=json.dumps(body), content_type="application/json",
                       REMOTE_ADDR=address)


def test_refused_enrollment_secrets_are_throttled(client, cluster, low_limits):
    _, secret = enrollment_secret_create(label="fleet", cluster=cluster)
    for guess in ("a", "b", "c"):
        assert enroll(client, guess, ATTACKER).status_code == 401
    throttled = enroll(client, secret, ATTACKER)
    assert throttled.status_code == 429 and throttled.json()["error"] == "throttled"
    assert int(throttled["Retry-After"]) == low_limits.CHIPWATCH_FAILURE_WINDOW_SECONDS
    assert not Agent.objects.exists()
    assert enroll(client, secret, BYSTANDER).status_code == 201


def test_successful_enrollments_are_never_throttled(client, cluster, low_limits):
    """A whole cluster enrolls from behind one NAT address: only refusals count."""
    _, secret = enrollment_secret_create(label="fleet", cluster=cluster)
    assert [enroll(client, secret, ATTACKER).status_code for _ in range(6)] == [201] * 6


@pytest.mark.parametrize("url, content_type", [
    ("/api/v1/agents/enroll", "application/json"),
    ("/api/v1/reports", "application/json"),
    ("/api/v1/findings", "application/json"),
    ("/login/", "application/x-www-form-urlencoded"),
    ("/admin/login/", "application/x-www-form-urlencoded"),
])
def test_bodies_over_the_upload_limit_are_413_everywhere(client, settings, url, content_type):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    response = client.post(url, data=b"x" * (64 * 1024 + 1), content_type=content_type)
    assert response.status_code == 413
    if url.startswith("/api/"):
        assert response.json()["error"] == "too_large"


def test_a_body_at_the_limit_reaches_the_view(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    body = json.dumps({"secret": "x" * 150}).ljust(64 * 1024)
    response = client.post("/api/v1/agents/enroll", data=body, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"  # the serializer spoke
