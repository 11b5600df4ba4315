"""Suite-wide fixtures: which services are real, and the objects most tests need."""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

import pytest

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def pytest_report_header(config):
    from django.conf import settings

    db = settings.DATABASES["default"]
    broker = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or "none (eager, in-process)"
    return [
        f"chipwatch database backend: {db['ENGINE'].rsplit('.', 1)[-1]} ({db.get('HOST') or db['NAME']})",
        f"chipwatch celery broker: {broker}; REQUIRE_SERVICES={int(REQUIRE_SERVICES)}",
    ]


def service_missing(what: str):
    """Skip when a real service is absent, or fail under REQUIRE_SERVICES=1 (CI)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (REQUIRE_SERVICES=1) but not configured")
    pytest.skip(f"{what} not configured")


@pytest.fixture
def postgres_url():
    from django.db import connection

    if connection.vendor != "postgresql":
        service_missing("PostgreSQL (DATABASE_URL)")
    return os.environ["DATABASE_URL"]


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL")
    if not url:
        service_missing("Redis (REDIS_URL)")
    return url


@pytest.fixture(autouse=True)
def _celery_eager_by_default():
    """Unit tests run tasks in-process; integration tests that start a real worker switch this off."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _evaluation_errors_fail_the_test(caplog):
    """Ingest never lets an (inline) evaluation failure reach the agent; it logs it instead.
    A test must not pass over such a log line unnoticed."""
    yield
    failures = [r for r in caplog.get_records("call") if r.name == "inventory.services.ingest" and r.levelname == "ERROR"]
    assert not failures, f"evaluation failed during the test: {failures[0].getMessage()}"


@pytest.fixture(autouse=True)
def _synthetic_reports_allowed(settings):
    """The fake NVML backend is how tests produce reports; production refuses them (tested explicitly)."""
    settings.CHIPWATCH_ACCEPT_SYNTHETIC = True


# --- inventory objects -----------------------------------------------------------


@pytest.fixture
def org_tree(db):
    from inventory.models import Organization

    parent = Organization.objects.create(name="Acme Holdings", country_of_incorporation="US",
                                         headquarters_country="US", kind="operator")
    child = Organization.objects.create(name="Acme Compute SG", country_of_incorporation="SG",
                                        headquarters_country="SG", parent=parent, kind="cloud_provider")
    return parent, child


@pytest.fixture
def cluster(org_tree):
    from inventory.models import Cluster, Site

    _, operator = org_tree
    site = Site.objects.create(name="SG-1", organization=operator, country="SG", city="Singapore",
                               latitude=1.35, longitude=103.82)
    return Cluster.objects.create(name="sg-train-1", site=site, operator=operator, declared_purpose="training")


@pytest.fixture
def enrolled_agent(cluster):
    """An agent enrolled through the real service; returns (agent, private_key)."""
    from chipwatch_agent import protocol
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from inventory.services.enrollment import agent_enroll, enrollment_secret_create

    _, secret = enrollment_secret_create(label="test", cluster=cluster)
    key = Ed25519PrivateKey.generate()
    agent = agent_enroll(secret=secret, public_key=protocol.public_key_b64(key),
                                  hostname="gpu-node-01", machine_id="a" * 32)
    return agent, key
