from django.contrib import admin

from . import models


@admin.register(models.GpuClassification)
class GpuClassificationAdmin(admin.ModelAdmin):
    list_display = ("gpu", "catalog_model", "eccn", "paragraph", "rule", "as_of", "evaluated_at")
    list_filter = ("eccn", "catalog_model", "rule")
    search_fields = ("gpu__uuid",)
    list_select_related = ("gpu",)


@admin.register(models.ClusterScore)
class ClusterScoreAdmin(admin.ModelAdmin):
    list_display = ("cluster", "as_of", "gpu_count", "aggregate_tpp", "h100_equivalents", "risk_score", "rule")
    list_filter = ("as_of", "rule")
    search_fields = ("cluster__name",)
    list_select_related = ("cluster",)


class FindingEventInline(admin.TabularInline):
    model = models.FindingEvent
    fields = ("at", "actor", "from_status", "to_status", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(models.Finding)
class FindingAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "severity", "status", "subject_type", "subject_id", "last_seen", "occurrences")
    list_filter = ("status", "severity", "kind")
    search_fields = ("title", "dedup_key")
    readonly_fields = ("dedup_key", "evidence", "first_seen", "last_seen", "occurrences")
    inlines = [FindingEventInline]
