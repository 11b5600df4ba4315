from django.urls import path

from . import views

urlpatterns = [
    path("agents/enroll", views.EnrollView.as_view(), name="agent-enroll"),
    path("reports", views.ReportView.as_view(), name="report-ingest"),
]
