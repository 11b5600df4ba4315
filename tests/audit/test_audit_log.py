"""The audit log: what is recorded, by whom, and that tampering behind its back is caught."""
import json
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection

from compliance.audit.context import audit_context
from compliance.audit.models import AuditEvent
from compliance.audit.selectors import audit_chain_verify


@pytest.fixture
def org(db):
    from inventory.models import Organization

    return Organization.objects.create(name="Gamma <b>Corp</b>", country_of_incorporation="DE",
                                       headquarters_country="DE")


def _events(instance):
    return list(AuditEvent.objects.filter(model=instance._meta.label_lower, object_id=str(instance.pk)))


def test_create_update_delete_are_recorded_with_before_and_after(org):
    org.headquarters_country = "FR"
    org.save()
    pk = org.pk
    org.delete()
    events = list(AuditEvent.objects.filter(model="inventory.organization", object_id=str(pk)))
    assert [e.action for e in events] == ["create", "update", "delete"]
    assert events[0].before is None and events[0].after["name"] == "Gamma <b>Corp</b>"
    assert (events[1].before["headquarters_country"], events[1].after["headquarters_country"]) == ("DE", "FR")
    assert events[2].before["headquarters_country"] == "FR" and events[2].after is None
    assert audit_chain_verify().intact


def test_every_audited_model_is_recorded(org, django_user_model):
    from compliance.findings import FindingSpec, finding_raise, finding_triage
    from inventory.models import Declaration, License, Site, Transfer

    site = Site.objects.create(name="FRA-1", organization=org, country="DE")
    declaration = Declaration.objects.create(gpu_uuid="GPU-1", licensed_end_user=org, site=site,
                                             source_sha256="0" * 64, imported_at="2026-01-01T00:00:00Z")
    licence = License.objects.create(number="L-1", holder=org, destination_country="DE", valid_from=date(2026, 1, 1))
    licence.sites.add(site)
    transfer = Transfer.objects.create(gpu_uuid="GPU-1", to_site=site, effective_date=date(2026, 2, 1))
    finding = finding_raise(spec=FindingSpec(kind="k", severity=30, subject_type="organization", subject_id=org.pk,
                                             dedup_key="k:1", title="t", citation="c", organization_id=org.pk))
    officer = django_user_model.objects.create_user("officer")
    finding_triage(finding=finding, actor=officer, to_status="acknowledged", note="n", assignee=officer)
    for instance, actions in [(site, ["create"]), (declaration, ["create"]), (licence, ["create", "update"]),
                              (transfer, ["create"]), (finding, ["create", "update"])]:
        assert [e.action for e in _events(instance)] == actions, instance
    assert _events(licence)[-1].after["sites"] == [site.pk]
    assert _events(finding)[-1].after["status"] == "acknowledged"


def test_an_unchanged_save_records_nothing(org):
    from inventory.models import Site

    site = Site.objects.create(name="FRA-2", organization=org, country="DE")
    site.save()
    assert len(_events(site)) == 1


def test_actor_and_request_id_come_from_the_context(org, django_user_model):
    user = django_user_model.objects.create_user("importer")
    with audit_context(request_id="batch-42", user=user):
        org.name = "Gamma GmbH"
        org.save()
    event = _events(org)[-1]
    assert (event.user_id, event.user_name, event.request_id) == (user.pk, "importer", "batch-42")


def test_api_changes_carry_the_user_and_the_request_id(db):
    from tests.api.fleet import api_client, family_create

    family = family_create("Delta", hq="US", site_country="US")
    from compliance.access.models import RoleGrant
    from django.contrib.auth import get_user_model

    officer = get_user_model().objects.create_user("delta-officer")
    RoleGrant.objects.create(user=officer, role="officer", organization=family.root)
    finding = family.findings[0]
    response = api_client(officer).post(f"/api/v1/findings/{finding.pk}/triage",
                                        {"to_status": "acknowledged", "note": "n", "assignee": officer.pk},
                                        format="json", HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 200 and response["X-Request-ID"] == "req-123"
    event = _events(finding)[-1]
    assert (event.action, event.user_name, event.request_id) == ("update", "delta-officer", "req-123")


def test_rows_are_append_only_through_the_orm(org):
    event = AuditEvent.objects.first()
    with pytest.raises(ValidationError):
        event.save()
    with pytest.raises(ValidationError):
        event.delete()


def test_floats_survive_the_database_round_trip(org):
    """jsonb rewrites 1e+20 without exponent and -0.0 as -0: the hash must not depend on that."""
    from compliance.findings import FindingSpec, finding_raise

    finding_raise(spec=FindingSpec(kind="k", severity=10, subject_type="organization", subject_id=org.pk,
                                   dedup_key="k:floats", title="t", citation="c",
                                   figures={"huge": 1e20, "negative_zero": -0.0, "small": 1.5e-7, "ratio": 0.1}))
    assert audit_chain_verify().intact


# --- verify_audit_log ---------------------------------------------------------------


@pytest.fixture
def chain(org):
    """Five events: create + four updates of one organization."""
    for country in ("FR", "IT", "ES", "PT"):
        org.headquarters_country = country
        org.save()
    return list(AuditEvent.objects.order_by("seq"))


def _verify(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("verify_audit_log", *args, stdout=out)
    return out.getvalue()


def _broken(*args) -> str:
    with pytest.raises(CommandError) as caught:
        _verify(*args)
    assert caught.value.returncode == 1
    return str(caught.value)


def test_intact_chain_passes_and_prints_its_head(chain):
    assert f"5 events, head 5:{chain[-1].sha256}" in _verify()


def test_sql_update_of_content_is_named(chain):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET user_name = 'someone else' WHERE seq = 3")
    assert "row seq=3 " in _broken() and "edited" in _broken()


def test_sql_update_that_rehashes_the_row_is_caught_by_the_next_one(chain):
    forged = chain[2]
    forged.after = {**forged.after, "headquarters_country": "XX"}
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET after = %s, sha256 = %s WHERE seq = 3",
                       [json.dumps(forged.after), forged.compute_sha256()])
    assert "row seq=3 was edited or replaced" in _broken()


def test_sql_delete_is_named(chain):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE seq = 2")
    assert "row seq=2 was deleted" in _broken()


def test_deleting_the_newest_rows_is_caught_against_an_anchor(chain):
    anchor = f"5:{chain[-1].sha256}"
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE seq >= 4")
    assert "3 events" in _verify()  # a shorter chain is still a chain…
    assert "row seq=5 (the anchor) was deleted" in _broken("--anchor", anchor)  # …but not the one anchored
