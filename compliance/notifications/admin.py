"""Endpoints and recipients are configured here; the delivery log is read-only."""
from django.contrib import admin

from .models import Delivery, DeliveryAttempt, EmailRecipient, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "url", "min_severity", "active", "created_at")
    list_filter = ("active", "min_severity")
    readonly_fields = ("created_at",)


@admin.register(EmailRecipient)
class EmailRecipientAdmin(admin.ModelAdmin):
    list_display = ("address", "name", "min_severity", "active")
    list_filter = ("active", "min_severity")


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("number", "at", "succeeded", "status_code", "error", "duration_ms")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The log of what was sent where: evidence of notification, so nobody edits it."""

    list_display = ("id", "finding", "channel", "target", "status", "attempts", "created_at", "delivered_at")
    list_filter = ("status", "channel", "event")
    search_fields = ("target", "finding__title")
    list_select_related = ("finding",)
    inlines = [DeliveryAttemptInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
