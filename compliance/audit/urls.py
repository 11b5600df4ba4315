from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api, views

app_name = "audit"

router = SimpleRouter(trailing_slash=False)
router.register("api/v1/audit-events", api.AuditEventViewSet, basename="event")

urlpatterns = [
    path("audit/", views.AuditLogView.as_view(), name="events"),
    *router.urls,
]
