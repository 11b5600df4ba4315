"""The admin shows screening data (lists, entries, hits, adjudications) and lets no one edit it."""
import pytest
from django.urls import reverse

from compliance.screening.models import Adjudication, ListEntry, ScreeningHit, ScreeningList


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("admin", "admin@example.com", "x" * 12))
    return client


def test_changelists_load_and_search(staff_client, import_list, make_org, screen, officer):
    from compliance.screening import services

    import_list()
    [hit] = screen(make_org("Inspur Group"))
    services.screening_adjudicate(hit=hit, user=officer, verdict="confirmed", reason="same entity")
    for model in (ScreeningList, ListEntry, ScreeningHit, Adjudication):
        url = reverse(f"admin:screening_{model._meta.model_name}_changelist")
        assert staff_client.get(url, {"q": "Inspur"}).status_code == 200, model
    response = staff_client.get(reverse("admin:screening_listentry_changelist"), {"q": "sugon"})
    assert b"Sugon" in response.content


def test_screening_data_cannot_be_added_edited_or_deleted_in_the_admin(staff_client, import_list):
    screening_list = import_list()
    assert staff_client.get(reverse("admin:screening_screeninglist_add")).status_code == 403
    change = staff_client.post(reverse("admin:screening_screeninglist_change", args=[screening_list.pk]),
                               {"version": "forged"})
    assert change.status_code == 403
    delete = staff_client.post(reverse("admin:screening_screeninglist_delete", args=[screening_list.pk]),
                               {"post": "yes"})
    assert delete.status_code == 403
    screening_list.refresh_from_db()
    assert screening_list.version != "forged"
