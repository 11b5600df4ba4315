"""manage.py enrollment_secret and api_token: the secret printed once and usable, list and revoke, audited."""
import io

import pytest
from chipwatch_agent import protocol
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command

from compliance.audit.models import AuditEvent
from inventory.models import EnrollmentSecret
from inventory.services.enrollment import agent_enroll
from inventory.services.ingest import IngestError
from tests.api.fleet import api_client


def _run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def _enroll(secret: str):
    return agent_enroll(secret=secret, public_key=protocol.public_key_b64(Ed25519PrivateKey.generate()),
                        hostname="cli-node", machine_id="")


def test_enrollment_secret_create_list_revoke(family_a, users):
    cluster = family_a.clusters[0]
    secret, note = _run("enrollment_secret", "create", "--cluster", cluster.name, "--uses", "1", "--expires", "3",
                        "--by", "admin")
    assert len(secret) >= 40 and "\n" not in secret and secret not in note
    row = EnrollmentSecret.objects.get(cluster=cluster)
    assert row.max_uses == 1 and row.expires_at is not None
    event = AuditEvent.objects.get(model="inventory.enrollmentsecret", object_id=str(row.pk))
    assert (event.user_name, event.request_id) == ("admin", "manage.py:enrollment_secret")
    assert secret not in str(event.after)
    listing, _ = _run("enrollment_secret", "list")
    assert "live" in listing and cluster.name in listing and secret not in listing
    assert _enroll(secret).host.cluster == cluster
    assert "used up" in _run("enrollment_secret", "list")[0]
    _run("enrollment_secret", "revoke", str(row.pk))
    assert "revoked" in _run("enrollment_secret", "list")[0]


def test_a_revoked_secret_enrolls_nothing(family_a):
    secret, _ = _run("enrollment_secret", "create", "--cluster", family_a.clusters[0].name)
    _run("enrollment_secret", "revoke", str(EnrollmentSecret.objects.get().pk))
    with pytest.raises(IngestError) as refused:
        _enroll(secret)
    assert refused.value.status == 403


@pytest.mark.parametrize("args, message", [
    (["--cluster", "nowhere"], "no cluster named 'nowhere'"),
    (["--cluster", "alpha-0-cluster", "--uses", "0"], "--uses must be at least 1"),
    (["--cluster", "alpha-0-cluster", "--expires", "0"], "--expires must be at least 1 day"),
])
def test_enrollment_secret_create_refuses_bad_input(family_a, args, message):
    with pytest.raises(CommandError, match=message):
        _run("enrollment_secret", "create", *args)
    assert not EnrollmentSecret.objects.exists()


def test_api_token_create_use_list_revoke(users, family_a):
    token, note = _run("api_token", "create", "--user", "auditor_a", "--label", "Q3 audit", "--by", "officer")
    assert token.startswith("cwt_") and token not in note
    client = api_client(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/findings").status_code == 200
    listing, _ = _run("api_token", "list", "--user", "auditor_a")
    assert "live" in listing and "Q3 audit" in listing and token not in listing
    token_id = listing.splitlines()[1].split()[0]
    _run("api_token", "revoke", token_id, "--by", "officer")
    assert client.get("/api/v1/findings").status_code == 401
    events = AuditEvent.objects.filter(model="access.apitoken", object_id=token_id).order_by("seq")
    assert [e.action for e in events] == ["create", "update"]
    assert events[1].user_name == "officer" and events[1].after["revoked_at"] is not None
    assert all(token not in str(e.after) for e in events)


def test_a_role_capped_token_cannot_triage(users, family_a):
    token, _ = _run("api_token", "create", "--user", "officer", "--role", "auditor")
    client = api_client(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    finding = family_a.findings[0]
    assert client.get(f"/api/v1/findings/{finding.pk}").status_code == 200
    response = client.post(f"/api/v1/findings/{finding.pk}/triage",
                           {"to_status": "acknowledged", "note": "n", "assignee": users["officer"].pk}, format="json")
    assert response.status_code == 403


def test_api_token_create_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        _run("api_token", "create", "--user", "ghost")


@pytest.fixture
def authtoken_table(transactional_db):
    """An old install's rest_framework.authtoken table. Transactional: SQLite's schema editor will not open inside
    a db test's atomic block; so nothing rolls the table back, and it is dropped here even if the test fails."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id bigint, "
                       "created timestamp with time zone)" if connection.vendor == "postgresql" else
                       "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id bigint, created datetime)")
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS authtoken_token")


def test_existing_authtoken_rows_become_digests_and_the_clear_copy_is_erased(authtoken_table, users):
    """The data migration (access 0002) run again over a recreated rest_framework.authtoken table."""
    import hashlib
    from importlib import import_module

    from django.apps import apps
    from django.db import connection

    migration = import_module("compliance.access.migrations.0002_api_token")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, %s)",
                       ["0123456789abcdef0123456789abcdef01234567", users["auditor_a"].pk, "2026-01-02T03:04:05Z"])
    with connection.schema_editor() as editor:
        migration.tokens_from_authtoken(apps, editor)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
    client = api_client(None)
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert client.get("/api/v1/findings").status_code == 200
    from compliance.access.models import ApiToken

    migrated = ApiToken.objects.get(user=users["auditor_a"])
    assert migrated.digest == hashlib.sha256(b"0123456789abcdef0123456789abcdef01234567").hexdigest()
