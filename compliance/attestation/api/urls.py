from django.urls import path, re_path

from . import views

urlpatterns = [
    path("attestation/nonces", views.NonceView.as_view(), name="attestation-nonce"),
    # Any id-shaped segment reaches the view, so a malformed id answers the API's JSON 404 (like the GPU list).
    re_path(r"^gpus/(?P<pk>[^/]+)/attestation$", views.GpuAttestationView.as_view(), name="gpu-attestation"),
]
