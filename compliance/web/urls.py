from django.contrib.auth import views as auth_views
from django.urls import path

from . import rules
from .views import (base, catalog, clusters, dashboard, declarations, findings, fleet, licences, lookups, organizations,
                    search)

app_name = "web"

urlpatterns = [
    path("login/", base.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="web:login"), name="logout"),
    path("dashboard/", dashboard.DashboardView.as_view(), name="dashboard"),
    path("search/", search.SearchView.as_view(), name="search"),
    path("lookup/<str:kind>/", lookups.LookupView.as_view(), name="lookup"),
    path("clusters/", clusters.ClusterListView.as_view(), name="clusters"),
    path("clusters/<int:pk>/", clusters.ClusterDetailView.as_view(), name="cluster"),
    path("clusters/<int:pk>/scores/", clusters.ClusterScoreHistoryView.as_view(), name="cluster-scores"),
    path("organizations/", organizations.OrganizationListView.as_view(), name="organizations"),
    path("organizations/<int:pk>/", organizations.OrganizationDetailView.as_view(), name="organization"),
    path("findings/", findings.FindingListView.as_view(), name="findings"),
    path("findings/<int:pk>/", findings.FindingDetailView.as_view(), name="finding"),
    path("hosts/", fleet.HostListView.as_view(), name="hosts"),
    path("hosts/<int:pk>/", fleet.HostDetailView.as_view(), name="host"),
    path("gpus/", fleet.GpuListView.as_view(), name="gpus"),
    path("gpus/<int:pk>/", fleet.GpuDetailView.as_view(), name="gpu"),
    path("observations/<int:pk>/", fleet.ObservationDetailView.as_view(), name="observation"),
    path("locations/", fleet.LocationListView.as_view(), name="locations"),
    path("licences/new/", licences.LicenceCreateView.as_view(), name="licence-new"),
    path("declarations/import/", declarations.DeclarationUploadView.as_view(), name="declarations-upload"),
    path("declarations/import/<str:job_id>/", declarations.DeclarationJobView.as_view(), name="declarations-job"),
    path("declarations/import/<str:job_id>/run/", declarations.DeclarationJobRunView.as_view(),
         name="declarations-run"),
    path("declarations/import/<str:job_id>/progress/", declarations.DeclarationJobProgressView.as_view(),
         name="declarations-progress"),
    path("declarations/template.<str:fmt>", declarations.DeclarationFileView.as_view(), name="declarations-template"),
    path("declarations/export.<str:fmt>", declarations.DeclarationFileView.as_view(export=True),
         name="declarations-export"),
    path("catalog/", catalog.CatalogView.as_view(), name="catalog"),
    path("rules/", rules.RulesTimelineView.as_view(), name="rules"),
]
