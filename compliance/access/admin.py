from django.contrib import admin

from .models import RoleGrant


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
