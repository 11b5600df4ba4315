from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "compliance.notifications"
    label = "notifications"
    verbose_name = "Notifications"
