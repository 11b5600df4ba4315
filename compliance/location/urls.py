from django.urls import path

from . import api, views

app_name = "location"

urlpatterns = [
    path("api/v1/landmarks/challenges", api.ChallengeClaimView.as_view(), name="challenge-claim"),
    path("api/v1/landmarks/measurements", api.MeasurementView.as_view(), name="measurement-ingest"),
    path("location/hosts/<int:host_id>/", views.host_location_page, name="host"),
]
