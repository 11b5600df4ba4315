from django.urls import path

from . import views

app_name = "access"

urlpatterns = [
    path("access/secrets/", views.EnrollmentSecretsView.as_view(), name="secrets"),
    path("access/secrets/<int:pk>/revoke", views.EnrollmentSecretRevokeView.as_view(), name="secret-revoke"),
    path("access/tokens/", views.ApiTokensView.as_view(), name="tokens"),
    path("access/tokens/<int:pk>/revoke", views.ApiTokenRevokeView.as_view(), name="token-revoke"),
    path("access/agents/", views.SilentAgentsView.as_view(), name="agents"),
]
