from datetime import timedelta

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from compliance.access.enrollment import enrollment_secret_revoke
from config.admin import ViewOnlyAdmin, ViewOnlyMixin

from . import models
from .services.enrollment import agent_revoke, enrollment_secret_create


@admin.register(models.Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "headquarters_country", "country_of_incorporation", "parent", "provenance")
    list_filter = ("kind", "headquarters_country", "provenance")
    search_fields = ("name", "aliases")
    autocomplete_fields = ("parent",)


@admin.register(models.Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "country", "city", "latitude", "longitude")
    list_filter = ("country",)
    search_fields = ("name", "city", "organization__name")
    list_select_related = ("organization",)


@admin.register(models.Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ("name", "site", "operator", "declared_purpose")
    list_filter = ("declared_purpose", "site__country")
    search_fields = ("name", "operator__name", "site__name")
    list_select_related = ("site", "operator")


class GpuInline(ViewOnlyMixin, admin.TabularInline):
    model = models.Gpu
    fields = ("index", "uuid", "name", "pci_device_id", "active_nvlinks", "last_seen")
    readonly_fields = fields
    extra = 0
    show_change_link = True


@admin.register(models.Host)
class HostAdmin(ViewOnlyAdmin):
    """Reported facts, and the cluster its enrollment secret placed it in: set by enrollment and ingest only."""

    list_display = ("hostname", "cluster", "driver_version", "nvml_ok", "last_seen", "needs_evaluation")
    list_filter = ("nvml_ok", "cluster")
    search_fields = ("hostname", "machine_id")
    list_select_related = ("cluster",)
    inlines = [GpuInline]


class NvLinkInline(ViewOnlyMixin, admin.TabularInline):
    model = models.NvLink
    fields = ("link_index", "state", "version", "speed_mbps", "remote_device_type", "remote_pci_bus_id")
    readonly_fields = fields
    extra = 0


@admin.register(models.Gpu)
class GpuAdmin(ViewOnlyAdmin):
    """What the agent reported (its history is in Observation): never edited by hand."""

    list_display = ("uuid", "name", "pci_device_id_hex", "host", "active_nvlinks", "nvlink_version", "last_seen")
    list_filter = ("name", "nvlink_version", "provenance")
    search_fields = ("uuid", "serial", "name", "host__hostname")
    list_select_related = ("host",)
    inlines = [NvLinkInline]

    @admin.display(description="PCI device")
    def pci_device_id_hex(self, obj):
        return f"0x{obj.pci_device_id:04X}" if obj.pci_device_id is not None else "—"


@admin.register(models.NvLink)
class NvLinkAdmin(ViewOnlyAdmin):
    list_display = ("gpu", "link_index", "state", "version", "speed_mbps", "remote_device_type")
    list_filter = ("state", "version", "remote_device_type")
    search_fields = ("gpu__uuid",)
    list_select_related = ("gpu",)


@admin.register(models.Observation)
class ObservationAdmin(ViewOnlyAdmin):
    list_display = ("report_id", "host", "sequence", "collected_at", "received_at", "full_identity", "synthetic",
                    "signature_status")
    list_filter = ("signature_status", "synthetic", "full_identity")
    search_fields = ("report_id", "host__hostname", "payload_sha256")
    list_select_related = ("host",)
    date_hierarchy = "received_at"


@admin.register(models.GpuSample)
class GpuSampleAdmin(ViewOnlyAdmin):
    list_display = ("gpu", "collected_at", "utilization_gpu_pct", "power_draw_mw", "sm_clock_mhz")
    list_select_related = ("gpu",)


@admin.register(models.IngestRejection)
class IngestRejectionAdmin(ViewOnlyAdmin):
    list_display = ("received_at", "reason", "claimed_agent_id", "report_id", "detail")
    list_filter = ("reason",)
    search_fields = ("claimed_agent_id", "report_id")


@admin.register(models.Agent)
class AgentAdmin(ViewOnlyAdmin):
    """Keys are enrolled by the agent and revoked here; a revocation is final (no field to undo it)."""

    list_display = ("id", "host", "enrolled_at", "last_seen", "last_sequence", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("id", "host__hostname", "public_key")
    list_select_related = ("host",)
    actions = ["revoke"]

    def has_revoke_permission(self, request):
        return request.user.has_perm("inventory.change_agent")

    @admin.action(description="Revoke the selected agents' keys (final)", permissions=["revoke"])
    def revoke(self, request, queryset):
        for agent in queryset:
            agent_revoke(agent=agent)
        self.message_user(request, f"{queryset.count()} agent key(s) revoked")


class EnrollmentSecretAddForm(forms.ModelForm):
    expires_in_days = forms.IntegerField(required=False, min_value=1, help_text="Empty: never expires")

    class Meta:
        model = models.EnrollmentSecret
        fields = ("label", "cluster", "max_uses")


@admin.register(models.EnrollmentSecret)
class EnrollmentSecretAdmin(admin.ModelAdmin):
    """Added through enrollment_secret_create (the plaintext is shown once, only the hash is kept);
    afterwards only revoked: where a secret places hosts is an access right, not edited in place."""

    list_display = ("label", "cluster", "uses", "max_uses", "expires_at", "revoked_at", "created_at")
    list_filter = ("revoked_at",)
    search_fields = ("label", "cluster__name")
    list_select_related = ("cluster",)
    readonly_fields = ("label", "cluster", "max_uses", "uses", "expires_at", "revoked_at", "created_at")
    exclude = ("secret_sha256",)
    actions = ["revoke"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = EnrollmentSecretAddForm
            kwargs["fields"] = ("label", "cluster", "max_uses", "expires_in_days")
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        return request.user.has_perm("inventory.change_enrollmentsecret")

    def save_model(self, request, obj, form, change):
        days = form.cleaned_data.get("expires_in_days")
        created, plaintext = enrollment_secret_create(
            label=obj.label, cluster=obj.cluster, max_uses=obj.max_uses,
            expires_at=timezone.now() + timedelta(days=days) if days else None)
        obj.pk, obj._state.adding = created.pk, False
        obj.refresh_from_db()
        obj.plaintext = plaintext

    def response_add(self, request, obj, post_url_continue=None):
        """The plaintext in the response body only: never in a message cookie, a URL or a log."""
        return TemplateResponse(request, "access/secret_once.html", {
            **self.admin_site.each_context(request), "title": "Enrollment secret created", "secret": obj,
            "plaintext": obj.plaintext, "back_url": reverse("admin:inventory_enrollmentsecret_changelist"),
        })

    @admin.action(description="Revoke the selected secrets (final)", permissions=["revoke"])
    def revoke(self, request, queryset):
        for secret in queryset:
            enrollment_secret_revoke(secret=secret)
        self.message_user(request, f"{queryset.count()} enrollment secret(s) revoked")


@admin.register(models.Declaration)
class DeclarationAdmin(admin.ModelAdmin):
    list_display = ("gpu_uuid", "serial", "licensed_end_user", "site", "license_number", "imported_at")
    list_filter = ("site",)
    search_fields = ("gpu_uuid", "serial", "license_number")
    list_select_related = ("licensed_end_user", "site")


@admin.register(models.Transfer)
class TransferAdmin(admin.ModelAdmin):
    list_display = ("gpu_uuid", "from_site", "to_site", "effective_date", "license_number")
    search_fields = ("gpu_uuid", "license_number")


@admin.register(models.License)
class LicenseAdmin(admin.ModelAdmin):
    list_display = ("number", "holder", "destination_country", "quantity", "valid_from", "valid_until")
    list_filter = ("destination_country",)
    search_fields = ("number", "holder__name")
    filter_horizontal = ("sites",)
