"""The officer pages for enrollment secrets, API tokens and silent agents, through the browser's HTTP."""
import re
from datetime import timedelta

from django.utils import timezone

from compliance.access.models import ApiToken
from compliance.access.services import api_token_create
from compliance.audit.models import AuditEvent
from inventory.models import Agent, EnrollmentSecret, IngestRejection
from tests.api.fleet import api_client

PLAINTEXT = re.compile(rb'<code id="plaintext">([^<]+)</code>')


def _login(client, user):
    client.force_login(user)
    return client


def test_officer_creates_a_secret_shown_once_and_revokes_it(client, users, family_a):
    from chipwatch_agent import protocol
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from inventory.services.enrollment import agent_enroll

    _login(client, users["officer_a"])
    cluster = family_a.clusters[0]
    response = client.post("/access/secrets/", {"cluster": cluster.pk, "label": "rack 7", "max_uses": "2",
                                                "expires_in_days": "5"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    plaintext = PLAINTEXT.search(response.content).group(1).decode()
    secret = EnrollmentSecret.objects.get(label="rack 7")
    assert secret.cluster == cluster and secret.max_uses == 2
    listing = client.get("/access/secrets/")
    assert b"rack 7" in listing.content and plaintext.encode() not in listing.content
    agent = agent_enroll(secret=plaintext, public_key=protocol.public_key_b64(Ed25519PrivateKey.generate()),
                         hostname="ui-node", machine_id="")
    assert agent.host.cluster == cluster
    assert client.post(f"/access/secrets/{secret.pk}/revoke").status_code == 302
    secret.refresh_from_db()
    assert secret.revoked_at is not None
    events = AuditEvent.objects.filter(model="inventory.enrollmentsecret", object_id=str(secret.pk)).order_by("seq")
    assert events.last().user_name == "officer_a" and events.last().after["revoked_at"]


def test_an_officer_cannot_reach_another_familys_clusters_or_secrets(client, users, family_a, family_b):
    from inventory.services.enrollment import enrollment_secret_create

    foreign, _ = enrollment_secret_create(label="beta rack", cluster=family_b.clusters[0])
    _login(client, users["officer_a"])
    refused = client.post("/access/secrets/", {"cluster": family_b.clusters[0].pk})
    assert refused.status_code == 400 and not EnrollmentSecret.objects.exclude(pk=foreign.pk).exists()
    assert b"beta rack" not in client.get("/access/secrets/").content
    assert client.post(f"/access/secrets/{foreign.pk}/revoke").status_code == 404
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


def test_auditors_get_403_on_the_officer_pages(client, users, family_a):
    _login(client, users["auditor_a"])
    for url in ("/access/secrets/", "/access/tokens/"):
        assert client.get(url).status_code == 403
    assert client.get("/access/agents/").status_code == 200  # reading agents is an auditor's business too


def test_officer_issues_a_token_shown_once_that_works_and_revokes_it(client, users, family_a):
    _login(client, users["officer_a"])
    response = client.post("/access/tokens/", {"user": users["auditor_a"].pk, "role": "auditor", "label": "Q4"})
    assert response.status_code == 200
    plaintext = PLAINTEXT.search(response.content).group(1).decode()
    token = ApiToken.objects.get(label="Q4")
    assert token.digest != plaintext and plaintext not in client.get("/access/tokens/").content.decode()
    api = api_client(None)
    api.credentials(HTTP_AUTHORIZATION=f"Token {plaintext}")
    assert api.get("/api/v1/findings").status_code == 200
    assert client.post(f"/access/tokens/{token.pk}/revoke").status_code == 302
    assert api.get("/api/v1/findings").status_code == 401
    events = AuditEvent.objects.filter(model="access.apitoken", object_id=str(token.pk)).order_by("seq")
    assert [(e.action, e.user_name) for e in events] == [("create", "officer_a"), ("update", "officer_a")]


def test_an_officer_issues_tokens_only_for_users_inside_their_families(client, users, family_a):
    _login(client, users["officer_a"])
    for outsider in ("admin", "officer", "auditor_b"):
        assert client.post("/access/tokens/", {"user": users[outsider].pk}).status_code == 400, outsider
    assert not ApiToken.objects.exists()
    token, _ = api_token_create(user=users["admin"])
    assert client.post(f"/access/tokens/{token.pk}/revoke").status_code == 404


def test_silent_agents_show_last_seen_key_state_and_last_refusal(client, users, family_a, family_b):
    long_ago = timezone.now() - timedelta(days=2)
    Agent.objects.update(enrolled_at=long_ago)
    silent = Agent.objects.get(host=family_a.hosts[0])
    Agent.objects.filter(pk=silent.pk).update(last_seen=long_ago + timedelta(hours=1))
    # Re-enrollment retires the old key before the new one is live (one live key per host).
    Agent.objects.filter(pk=silent.pk).update(revoked_at=long_ago + timedelta(hours=2))
    successor = Agent.objects.create(host=family_a.hosts[0], public_key="B" * 43 + "=")
    Agent.objects.filter(pk=successor.pk).update(enrolled_at=long_ago + timedelta(hours=2))
    IngestRejection.objects.create(agent=successor, claimed_agent_id=str(successor.pk), reason="bad_signature",
                                   detail="signature does not verify")
    _login(client, users["auditor_a"])
    page = client.get("/access/agents/?minutes=30").content.decode()
    assert str(silent.pk) in page and str(successor.pk) in page
    assert "retired" in page and "bad_signature" in page and "signature does not verify" in page
    assert str(Agent.objects.get(host=family_b.hosts[0]).pk) not in page  # another family's agent
    Agent.objects.filter(pk=successor.pk).update(last_seen=timezone.now())
    assert str(successor.pk) not in client.get("/access/agents/?minutes=30").content.decode()
