from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "compliance.screening"
    label = "screening"
    verbose_name = "Denied-party screening"

    def ready(self):
        from . import signals  # noqa: F401  (connects the organization save hooks)
