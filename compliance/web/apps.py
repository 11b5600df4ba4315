from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "compliance.web"
    label = "web"
    verbose_name = "Officer web UI"
