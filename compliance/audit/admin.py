from django.contrib import admin

from config.admin import ViewOnlyAdmin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ViewOnlyAdmin):
    """Read-only: the log is written by the application alone."""

    list_display = ("seq", "at", "user_name", "action", "model", "object_id", "object_repr", "request_id")
    list_filter = ("action", "model")
    search_fields = ("object_repr", "object_id", "user_name", "request_id")
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
