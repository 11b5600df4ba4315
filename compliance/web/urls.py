from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "web"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="web:login"), name="logout"),
    path("dashboard/", views.DashboardView.as_view(), name="dashboard"),
    path("clusters/", views.ClusterListView.as_view(), name="clusters"),
    path("clusters/<int:pk>/", views.ClusterDetailView.as_view(), name="cluster"),
    path("organizations/", views.OrganizationListView.as_view(), name="organizations"),
    path("organizations/<int:pk>/", views.OrganizationDetailView.as_view(), name="organization"),
    path("findings/", views.FindingListView.as_view(), name="findings"),
    path("findings/<int:pk>/", views.FindingDetailView.as_view(), name="finding"),
    path("observations/<int:pk>/", views.ObservationDetailView.as_view(), name="observation"),
]
