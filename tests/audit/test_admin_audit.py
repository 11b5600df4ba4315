"""Edits through the admin, over HTTP as a logged-in superuser: what changes a determination or an access
right is audited with before/after; derived rows and reported facts cannot be edited; a revocation is
final; a finding's status moves only through the triage service."""
import pytest
from django import forms
from django.contrib import admin
from django.test import RequestFactory

from compliance.audit.models import AuditEvent
from compliance.audit.signals import audited_models

# Apps whose rows never decide a determination or an access right: Celery beat's schedule.
NOT_DETERMINING = {"django_celery_beat"}


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", password="pw-root-chipwatch")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def _events(instance):
    return list(AuditEvent.objects.filter(model=instance._meta.label_lower, object_id=str(instance.pk)))


def _change_form(admin_client, instance) -> dict:
    """The fields of an admin change form as the browser would send them back."""
    url = f"/admin/{instance._meta.app_label}/{instance._meta.model_name}/{instance.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None:
            continue
        if isinstance(field, forms.SplitDateTimeField):
            data[f"{name}_0"], data[f"{name}_1"] = value.date().isoformat(), value.time().isoformat()
        else:
            data[name] = [str(v) for v in value] if isinstance(value, list | tuple) else str(value)
    return data


def test_every_model_the_admin_can_write_is_audited(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    writable_unaudited = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in NOT_DETERMINING:
            continue
        writes = (model_admin.has_add_permission(request) or model_admin.has_change_permission(request)
                  or model_admin.has_delete_permission(request))
        if writes and model not in audited_models():
            writable_unaudited.append(model._meta.label)
    assert writable_unaudited == []


def test_cluster_operator_change_is_audited_with_before_and_after(admin_client, family_a, family_b, superuser):
    cluster = family_a.clusters[0]
    data = _change_form(admin_client, cluster) | {"operator": str(family_b.child.pk), "site": str(family_b.site.pk)}
    response = admin_client.post(f"/admin/inventory/cluster/{cluster.pk}/change/", data,
                                 HTTP_X_REQUEST_ID="admin-edit-1")
    assert response.status_code == 302, response.content
    event = _events(cluster)[-1]
    assert (event.action, event.user_name, event.request_id) == ("update", "root", "admin-edit-1")
    assert (event.before["operator_id"], event.after["operator_id"]) == (family_a.child.pk, family_b.child.pk)
    assert (event.before["site_id"], event.after["site_id"]) == (family_a.site.pk, family_b.site.pk)


def test_site_country_and_organization_parent_changes_are_audited(admin_client, family_a, family_b):
    site = family_a.site
    response = admin_client.post(f"/admin/inventory/site/{site.pk}/change/",
                                 _change_form(admin_client, site) | {"country": "CN"})
    assert response.status_code == 302, response.content
    assert (_events(site)[-1].before["country"], _events(site)[-1].after["country"]) == ("SG", "CN")
    child = family_a.child
    response = admin_client.post(f"/admin/inventory/organization/{child.pk}/change/",
                                 _change_form(admin_client, child) | {"parent": str(family_b.root.pk)})
    assert response.status_code == 302, response.content
    assert _events(child)[-1].after["parent_id"] == family_b.root.pk


@pytest.mark.parametrize("kind", ["gpus", "hosts", "scores", "classifications"])
def test_reported_facts_and_derived_rows_cannot_be_edited(admin_client, family_a, kind):
    row = getattr(family_a, kind)[0]
    url = f"/admin/{row._meta.app_label}/{row._meta.model_name}/{row.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200 and b'name="_save"' not in page.content
    before = type(row).objects.filter(pk=row.pk).values().get()
    edits = {"gpus": {"name": "NVIDIA RTX 4090", "pci_device_id": "9860"}, "hosts": {"cluster": ""},
             "scores": {"risk_score": "0"}, "classifications": {"eccn": "EAR99"}}[kind]
    assert admin_client.post(url, edits).status_code == 403
    assert admin_client.post(url.replace("/change/", "/delete/"), {"post": "yes"}).status_code == 403
    assert type(row).objects.filter(pk=row.pk).values().get() == before


def test_revocation_is_final_and_audited(admin_client, family_a):
    from inventory.models import Agent

    agent = Agent.objects.get(host=family_a.hosts[0])
    response = admin_client.post("/admin/inventory/agent/", {"action": "revoke", "_selected_action": [str(agent.pk)]})
    assert response.status_code == 302
    agent.refresh_from_db()
    revoked_at = agent.revoked_at
    assert revoked_at is not None
    event = _events(agent)[-1]
    assert event.before["revoked_at"] is None and event.after["revoked_at"] is not None
    # No way back: the change form is read-only and a POST clearing revoked_at is refused.
    assert admin_client.post(f"/admin/inventory/agent/{agent.pk}/change/", {"revoked_at": ""}).status_code == 403
    agent.refresh_from_db()
    assert agent.revoked_at == revoked_at


def test_finding_status_cannot_be_set_in_the_admin(admin_client, family_a):
    from compliance.models import FindingEvent

    finding = family_a.findings[0]
    events = FindingEvent.objects.filter(finding=finding).count()
    response = admin_client.post(f"/admin/compliance/finding/{finding.pk}/change/", {"status": "false_positive"})
    assert response.status_code == 403
    finding.refresh_from_db()
    assert finding.status == "open" and FindingEvent.objects.filter(finding=finding).count() == events
    page = admin_client.get(f"/admin/compliance/finding/{finding.pk}/change/")
    assert f'href="/findings/{finding.pk}/"'.encode() in page.content  # where triage happens


def test_granting_a_global_admin_role_is_audited(admin_client, django_user_model):
    from compliance.access.models import RoleGrant

    user = django_user_model.objects.create_user("newcomer")
    response = admin_client.post("/admin/access/rolegrant/add/", {"user": str(user.pk), "role": "admin",
                                                                   "organization": ""})
    assert response.status_code == 302, response.content
    grant = RoleGrant.objects.get(user=user)
    event = _events(grant)[-1]
    assert (event.action, event.user_name) == ("create", "root")
    assert event.after["role"] == "admin" and event.after["organization_id"] is None


def test_superuser_flag_is_audited_without_the_password_hash(admin_client, django_user_model):
    user = django_user_model.objects.create_user("promoted", password="pw-promoted-chipwatch")
    data = _change_form(admin_client, user) | {"is_superuser": "on", "is_staff": "on"}
    response = admin_client.post(f"/admin/auth/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    event = _events(user)[-1]
    assert (event.before["is_superuser"], event.after["is_superuser"]) == (False, True)
    user.refresh_from_db()
    assert all(user.password not in str(e.before) + str(e.after) for e in _events(user))


def test_logging_in_writes_no_audit_event(client, superuser):
    before = AuditEvent.objects.count()
    assert client.post("/admin/login/", {"username": "root", "password": "pw-root-chipwatch"}).status_code == 302
    assert AuditEvent.objects.count() == before  # last_login is bookkeeping


def test_licence_edit_through_the_admin_is_audited(admin_client, family_a):
    from datetime import date

    from inventory.models import License

    response = admin_client.post("/admin/inventory/license/add/", {
        "number": "L-ADM-1", "holder": str(family_a.child.pk), "destination_country": "SG",
        "eccns": '["3A090.a"]', "sites": [str(family_a.site.pk)], "quantity": "8", "valid_from": "2026-01-01",
        "provenance": "declared"})
    assert response.status_code == 302, response.content
    licence = License.objects.get(number="L-ADM-1")
    assert licence.valid_from == date(2026, 1, 1)
    assert [e.action for e in _events(licence)][0] == "create"
    assert _events(licence)[-1].after["sites"] == [family_a.site.pk]


def test_admin_adds_usable_enrollment_secrets_shown_once(admin_client, family_a):
    import re

    from inventory.models import EnrollmentSecret
    from chipwatch_agent import protocol
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from inventory.services.enrollment import agent_enroll

    cluster = family_a.clusters[0]
    shown = []
    for label in ("rack 1", "rack 2"):  # the second add was a 500 (two empty hashes)
        response = admin_client.post("/admin/inventory/enrollmentsecret/add/", {
            "label": label, "cluster": str(cluster.pk), "max_uses": "3", "expires_in_days": "7"})
        assert response.status_code == 200, response.content
        shown.append(re.search(rb'<code id="plaintext">([^<]+)</code>', response.content).group(1).decode())
    secrets = list(EnrollmentSecret.objects.filter(label__startswith="rack").order_by("label"))
    assert len({s.secret_sha256 for s in secrets}) == 2 and all(len(s.secret_sha256) == 64 for s in secrets)
    assert secrets[0].expires_at is not None and secrets[0].max_uses == 3
    assert [e.action for e in _events(secrets[0])] == ["create"]
    assert shown[0] not in str(_events(secrets[0])[0].after)
    listing = admin_client.get("/admin/inventory/enrollmentsecret/")
    detail = admin_client.get(f"/admin/inventory/enrollmentsecret/{secrets[0].pk}/change/")
    assert shown[0].encode() not in listing.content + detail.content
    agent = agent_enroll(secret=shown[0], public_key=protocol.public_key_b64(Ed25519PrivateKey.generate()), hostname="new-node", machine_id="f" * 32)
    assert agent.host.cluster == cluster


def test_enrollment_secret_revocation_in_the_admin_is_final(admin_client, family_a):
    from inventory.services.enrollment import enrollment_secret_create

    secret, _ = enrollment_secret_create(label="old", cluster=family_a.clusters[0])
    response = admin_client.post("/admin/inventory/enrollmentsecret/",
                                 {"action": "revoke", "_selected_action": [str(secret.pk)]})
    assert response.status_code == 302
    secret.refresh_from_db()
    assert secret.revoked_at is not None and _events(secret)[-1].before["revoked_at"] is None
    assert admin_client.post(f"/admin/inventory/enrollmentsecret/{secret.pk}/change/",
                             {"revoked_at": ""}).status_code == 403


def test_an_agents_reports_write_no_audit_event(client, enrolled_agent):
    """Sequence, last_seen and budget counters are bookkeeping: a report is evidence in Observation, not an edit."""
    from tests.reports import minimal_report, signed_post

    agent, key = enrolled_agent
    before = AuditEvent.objects.count()
    for sequence in range(3):
        response = signed_post(client, minimal_report(str(agent.id), sequence=sequence), key)
        assert response.status_code in (200, 201), response.content
    assert AuditEvent.objects.count() == before
