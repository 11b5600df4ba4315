from django.contrib import admin

from .models import AttestationNonce, AttestationRecord


@admin.register(AttestationNonce)
class AttestationNonceAdmin(admin.ModelAdmin):
    list_display = ("nonce", "agent", "issued_at", "expires_at", "consumed_at")
    readonly_fields = [f.name for f in AttestationNonce._meta.fields]

    # Server-issued, single-use evidence of freshness: viewable, never edited or deleted by hand.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AttestationRecord)
class AttestationRecordAdmin(admin.ModelAdmin):
    list_display = ("id", "gpu", "verified", "chip", "nonce_issued", "verified_at")
    list_filter = ("verified", "chip", "nonce_issued")
    readonly_fields = [f.name for f in AttestationRecord._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
