from django.urls import path
from rest_framework.routers import SimpleRouter

from . import compute, views

router = SimpleRouter(trailing_slash=False)
router.register("classifications", views.GpuClassificationViewSet, basename="classification")
router.register("scores", views.ClusterScoreViewSet, basename="score")
router.register("findings", views.FindingViewSet, basename="finding")

urlpatterns = [
    path("clusters/<str:pk>/audit", views.ClusterAuditReportView.as_view(), name="cluster-audit"),
    path("clusters/<str:pk>/compute", compute.ClusterComputeView.as_view(), name="cluster-compute"),
    path("clusters/<str:pk>/scores", views.ClusterScoreHistoryView.as_view(), name="cluster-scores"),
    *router.urls,
]
