"""Admin pieces shared by every app."""
from django.contrib import admin


class ViewOnlyMixin:
    """Evidence and history (observations, measurements, screening rows, the audit log) are
    written by the application alone: the admin shows them and never adds, edits or deletes."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ViewOnlyAdmin(ViewOnlyMixin, admin.ModelAdmin):
    pass
