from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from compliance.api.classify import ClassifyView
from compliance.screening.api.views import ScreeningMatchView

from . import metrics, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # Before the UI's catch-all prefix: every agent report is resolved here without first failing
    # through all UI patterns (that failure cost ~0.4 ms a report, docs/benchmarks.md).
    path("api/v1/", include("inventory.api.urls")),
    path("admin/", admin.site.urls),
    path("", include("compliance.web.urls")),
    path("api/v1/classify", ClassifyView.as_view(), name="classify"),
    path("api/v1/screening/match", ScreeningMatchView.as_view(), name="screening-match"),
    path("api/v1/", include("compliance.attestation.api.urls")),
    path("api/v1/", include("compliance.api.urls")),
    path("", include("compliance.location.urls")),
    path("", include("compliance.access.urls")),
    path("", include("compliance.audit.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="web/redoc.html"), name="redoc"),
]
