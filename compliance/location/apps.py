from django.apps import AppConfig


class LocationConfig(AppConfig):
    """Delay-based location verification: landmarks time signed answers to fresh nonces."""

    name = "compliance.location"
    label = "location"
    verbose_name = "Location verification"
