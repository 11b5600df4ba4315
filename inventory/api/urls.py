from django.urls import path

from . import ingest

urlpatterns = [
    path("agents/enroll", ingest.EnrollView.as_view(), name="agent-enroll"),
    path("reports", ingest.ReportView.as_view(), name="report-ingest"),
]
