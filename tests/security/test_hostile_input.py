"""Hostile bodies and headers get a 4xx naming the problem, never a 500 (issue 11, items 9 and 11).

The POST routes are read from the URL resolver, so an endpoint added later is covered without editing this file:
every DRF view that takes POST must answer JSON nested past the recursion limit with 400, and every other view
that takes POST (HTML forms) must not answer it with a 5xx.
"""
import pytest
from django.contrib.admindocs.views import simplify_regex
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from compliance.audit.models import AuditEvent
from compliance.location.landmark import CLAIM_SCHEMA, LANDMARK_HEADER, MEASUREMENT_SCHEMA
from compliance.models import Finding

pytestmark = pytest.mark.django_db

# 2,000 levels already exceed Python's recursion limit; 4,000 bytes fit under every endpoint's size limit
# (the attestation nonce request's 4 KiB is the smallest), so each one has to parse it.
DEEP = "[" * 2000 + "]" * 2000
DEEPEST = "[" * 100_000  # the reviewer's body: a 413 where it is over the size limit, else a 400


def _routes(patterns=None, prefix=""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if not str(pattern.pattern).startswith("admin/"):  # Django's admin: form posts, CSRF-checked
                yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield simplify_regex(prefix + str(pattern.pattern)), pattern.callback


def _takes_post(callback) -> bool:
    actions = getattr(callback, "actions", None)  # a DRF viewset route: its method → action map
    if actions is not None:
        return "post" in actions
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    return view_class is not None and hasattr(view_class, "post")


def _is_drf(callback) -> bool:
    view_class = getattr(callback, "cls", None)
    return view_class is not None and issubclass(view_class, APIView)


POST_ROUTES = sorted((route, _is_drf(callback)) for route, callback in _routes() if _takes_post(callback))


def test_the_post_routes_include_every_json_endpoint_the_review_named():
    json_routes = {route for route, drf in POST_ROUTES if drf}
    assert {"/api/v1/agents/enroll", "/api/v1/reports", "/api/v1/landmarks/challenges",
            "/api/v1/landmarks/measurements", "/api/v1/attestation/nonces",
            "/api/v1/findings/<pk>/triage"} <= json_routes


@pytest.fixture
def admin_client(client, users):
    client.force_login(users["admin"])
    return client


def _url(route: str) -> str:
    """The route with its path parameters filled: a finding's id (triage), else an existing-looking id."""
    finding = Finding.objects.order_by("pk").first()
    return route.replace("<pk>", str(finding.pk)).replace("<int:pk>", str(finding.pk))


@pytest.mark.parametrize(("route", "drf"), POST_ROUTES, ids=[route for route, _ in POST_ROUTES])
def test_json_nested_past_the_recursion_limit_is_a_400_on_every_post_route(admin_client, route, drf):
    response = admin_client.post(_url(route), DEEP, content_type="application/json")
    if drf:
        assert response.status_code == 400, response.content[:300]
        assert "nested too deeply" in response.content.decode(), response.content[:300]
    else:
        assert response.status_code < 500, response.content[:300]
    deepest = admin_client.post(_url(route), DEEPEST, content_type="application/json")
    assert deepest.status_code < 500 and (not drf or deepest.status_code in (400, 413)), deepest.content[:300]


def test_unauthenticated_nested_enrollment_bodies_count_towards_the_throttle(client, cluster, settings):
    settings.CHIPWATCH_ENROLL_FAILURE_LIMIT = 3
    for _ in range(3):
        answer = client.post("/api/v1/agents/enroll", DEEP, content_type="application/json", REMOTE_ADDR="203.0.113.9")
        assert answer.status_code == 400 and answer.json()["error"] == "parse_error"
    throttled = client.post("/api/v1/agents/enroll", DEEP, content_type="application/json", REMOTE_ADDR="203.0.113.9")
    assert throttled.status_code == 429
    other = client.post("/api/v1/agents/enroll", DEEP, content_type="application/json", REMOTE_ADDR="198.51.100.3")
    assert other.status_code == 400  # another address is not slowed


@pytest.mark.parametrize("value", ["²", "١٢", "1 ", "-1", "0x1", "9" * 40])
@pytest.mark.parametrize("route", ["/api/v1/landmarks/challenges", "/api/v1/landmarks/measurements"])
def test_a_landmark_header_that_is_no_ascii_id_is_a_400_naming_the_header(client, route, value):
    schema = CLAIM_SCHEMA if route.endswith("challenges") else MEASUREMENT_SCHEMA
    body = '{"schema": "%s", "landmark_id": 1}' % schema
    response = client.post(route, body, content_type="application/json",
                           headers={LANDMARK_HEADER: value, "X-Chipwatch-Signature": "AAAA"})
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_header" and LANDMARK_HEADER in response.json()["detail"]


HOSTILE_REQUEST_IDS = ["x" * 65, "<script>alert(1)</script>", "id\r\nX-Injected: 1", "a b", "ünïcode", "' OR 1=1 --"]


@pytest.mark.parametrize("hostile", HOSTILE_REQUEST_IDS)
def test_a_hostile_request_id_never_reaches_an_audit_event(client, users, family_a, hostile):
    """An audited edit (a finding's triage) made under a hostile X-Request-ID is recorded under a fresh id."""
    client.force_login(users["admin"])
    finding = family_a.findings[0]
    before = set(AuditEvent.objects.values_list("seq", flat=True))
    response = client.post(f"/api/v1/findings/{finding.pk}/triage",
                           {"to_status": "acknowledged", "note": "looking", "assignee": users["admin"].pk},
                           content_type="application/json", HTTP_X_REQUEST_ID=hostile)
    assert response.status_code == 200, response.content
    written = AuditEvent.objects.exclude(seq__in=before)
    assert written.exists()  # the triage is audited, so the id had a row to reach
    request_ids = set(written.values_list("request_id", flat=True))
    assert hostile not in request_ids and request_ids == {response["X-Request-ID"]}
    assert response["X-Request-ID"] != hostile


def test_a_sane_request_id_is_kept_for_correlation(client, users, family_a):
    client.force_login(users["admin"])
    finding = family_a.findings[0]
    response = client.post(f"/api/v1/findings/{finding.pk}/triage",
                           {"to_status": "acknowledged", "note": "looking", "assignee": users["admin"].pk},
                           content_type="application/json", HTTP_X_REQUEST_ID="lb-7f3a:42.1")
    assert response.status_code == 200 and response["X-Request-ID"] == "lb-7f3a:42.1"
    assert AuditEvent.objects.filter(request_id="lb-7f3a:42.1").exists()
