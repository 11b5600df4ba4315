from django.contrib import admin

from config.admin import ViewOnlyAdmin

from .models import ApiToken, RoleGrant
from .services import api_token_revoke


@admin.register(RoleGrant)
class RoleGrantAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "organization", "granted_at", "granted_by")
    list_filter = ("role",)
    search_fields = ("user__username", "organization__name")
    list_select_related = ("user", "organization", "granted_by")
    autocomplete_fields = ("organization",)
    readonly_fields = ("granted_by",)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.granted_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ApiToken)
class ApiTokenAdmin(ViewOnlyAdmin):
    """Issued on the officer page or with `manage.py api_token create` (the plaintext is shown once there);
    here only listed and revoked."""

    list_display = ("prefix", "user", "role", "label", "created_at", "created_by", "last_used_at", "revoked_at")
    list_filter = ("role", "revoked_at")
    search_fields = ("user__username", "label", "prefix")
    list_select_related = ("user", "created_by")
    exclude = ("digest",)
    actions = ["revoke"]

    def has_revoke_permission(self, request):
        return request.user.has_perm("access.change_apitoken")

    @admin.action(description="Revoke the selected tokens (final)", permissions=["revoke"])
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(token=token, revoked_by=request.user)
        self.message_user(request, f"{queryset.count()} token(s) revoked")
