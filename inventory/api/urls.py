from django.urls import path
from rest_framework.routers import SimpleRouter

from . import ingest, views

router = SimpleRouter(trailing_slash=False)
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("sites", views.SiteViewSet, basename="site")
router.register("clusters", views.ClusterViewSet, basename="cluster")
router.register("hosts", views.HostViewSet, basename="host")
router.register("gpus", views.GpuViewSet, basename="gpu")
router.register("observations", views.ObservationViewSet, basename="observation")

urlpatterns = [
    path("agents/enroll", ingest.EnrollView.as_view(), name="agent-enroll"),
    path("reports", ingest.ReportView.as_view(), name="report-ingest"),
    path("reports/batch", ingest.ReportBatchView.as_view(), name="report-batch"),
    *router.urls,
]
