from django.apps import AppConfig


class AttestationConfig(AppConfig):
    """GPU attestation: server nonces, verified evidence, attested facts and their cross-check."""

    name = "compliance.attestation"
    label = "attestation"
    verbose_name = "GPU attestation"

    def ready(self):
        from . import signals  # noqa: F401  (connects the evidence-stored receiver)
