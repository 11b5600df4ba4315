from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "compliance.access"
    label = "access"
    verbose_name = "Access (roles and grants)"

    def ready(self):
        from config import checks  # registers the SECRET_KEY check

        checks.warn_at_start()
