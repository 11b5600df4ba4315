from django.contrib import admin

from config.admin import ViewOnlyAdmin

from . import models


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


class GpuInline(admin.TabularInline):
    model = models.Gpu
    fields = ("index", "uuid", "name", "pci_device_id", "active_nvlinks", "last_seen")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(models.Host)
class HostAdmin(admin.ModelAdmin):
    list_display = ("hostname", "cluster", "driver_version", "nvml_ok", "last_seen", "needs_evaluation")
    list_filter = ("nvml_ok", "cluster")
    search_fields = ("hostname", "machine_id")
    list_select_related = ("cluster",)
    inlines = [GpuInline]


class NvLinkInline(admin.TabularInline):
    model = models.NvLink
    fields = ("link_index", "state", "version", "speed_mbps", "remote_device_type", "remote_pci_bus_id")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(models.Gpu)
class GpuAdmin(admin.ModelAdmin):
    list_display = ("uuid", "name", "pci_device_id_hex", "host", "active_nvlinks", "nvlink_version", "last_seen")
    list_filter = ("name", "nvlink_version", "provenance")
    search_fields = ("uuid", "serial", "name", "host__hostname")
    list_select_related = ("host",)
    readonly_fields = ("identity",)
    inlines = [NvLinkInline]

    @admin.display(description="PCI device")
    def pci_device_id_hex(self, obj):
        return f"0x{obj.pci_device_id:04X}" if obj.pci_device_id is not None else "—"


@admin.register(models.NvLink)
class NvLinkAdmin(admin.ModelAdmin):
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
class AgentAdmin(admin.ModelAdmin):
    list_display = ("id", "host", "enrolled_at", "last_seen", "last_sequence", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("id", "host__hostname", "public_key")
    readonly_fields = ("id", "public_key", "enrolled_at", "last_seen", "last_sequence", "enrollment_secret")
    actions = ["revoke"]

    @admin.action(description="Revoke the selected agents' keys")
    def revoke(self, request, queryset):
        from .services.enrollment import agent_revoke

        for agent in queryset:
            agent_revoke(agent=agent)


@admin.register(models.EnrollmentSecret)
class EnrollmentSecretAdmin(admin.ModelAdmin):
    list_display = ("label", "cluster", "uses", "max_uses", "expires_at", "revoked_at", "created_at")
    readonly_fields = ("secret_sha256", "uses")


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
