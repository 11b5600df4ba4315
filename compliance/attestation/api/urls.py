from django.urls import path

from . import views

urlpatterns = [
    path("attestation/nonces", views.NonceView.as_view(), name="attestation-nonce"),
    path("gpus/<int:pk>/attestation", views.GpuAttestationView.as_view(), name="gpu-attestation"),
]
