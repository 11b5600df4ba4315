"""Endpoints and recipients are configured in the admin, audited; the delivery log is visible and read-only."""
import pytest

from compliance.audit.models import AuditEvent
from compliance.notifications.models import Delivery, WebhookEndpoint


@pytest.fixture
def admin_user_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-chipwatch")
    client.force_login(user)
    return client


def test_an_endpoint_added_in_the_admin_gets_a_secret_and_is_audited_without_it(admin_user_client):
    response = admin_user_client.post("/admin/notifications/webhookendpoint/add/", {
        "name": "siem", "url": "https://siem.example.com/hooks/chipwatch", "secret": "s3cret-shared-with-siem",
        "min_severity": 40, "active": "on"})
    assert response.status_code == 302, response.content
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret == "s3cret-shared-with-siem"
    event = AuditEvent.objects.filter(model="notifications.webhookendpoint").latest("id")
    assert "s3cret" not in str(event.after) and event.after["secret"] == "(secret, not logged)"


def test_a_new_endpoint_defaults_to_a_random_secret():
    assert len(WebhookEndpoint(name="x", url="https://x.example").secret) >= 40


def test_the_delivery_log_is_listed_and_read_only(admin_user_client, raise_finding,
                                                  django_capture_on_commit_callbacks, settings):
    settings.CHIPWATCH_NOTIFY_MAX_RETRIES = 0
    WebhookEndpoint.objects.create(name="gone", url="http://127.0.0.1:9/hooks")
    with django_capture_on_commit_callbacks(execute=True):
        raise_finding()
    delivery = Delivery.objects.get()
    listing = admin_user_client.get("/admin/notifications/delivery/")
    assert listing.status_code == 200 and b"http://127.0.0.1:9/hooks" in listing.content
    page = admin_user_client.get(f"/admin/notifications/delivery/{delivery.pk}/change/")
    assert page.status_code == 200 and b"ConnectionRefusedError" in page.content
    assert b'name="_save"' not in page.content
    assert admin_user_client.get("/admin/notifications/delivery/add/").status_code == 403
    assert admin_user_client.post(f"/admin/notifications/delivery/{delivery.pk}/delete/",
                                  {"post": "yes"}).status_code == 403
