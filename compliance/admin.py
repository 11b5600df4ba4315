"""Derived rows (classifications, scores) are recomputed by the evaluation and findings change status
only through the triage service (compliance.findings.finding_triage, in the officer UI and the API):
the admin shows them and edits nothing."""
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from config.admin import ViewOnlyAdmin, ViewOnlyMixin

from . import models


@admin.register(models.GpuClassification)
class GpuClassificationAdmin(ViewOnlyAdmin):
    list_display = ("gpu", "catalog_model", "eccn", "paragraph", "rule", "as_of", "evaluated_at")
    list_filter = ("eccn", "catalog_model", "rule")
    search_fields = ("gpu__uuid",)
    list_select_related = ("gpu",)


@admin.register(models.ClusterScore)
class ClusterScoreAdmin(ViewOnlyAdmin):
    list_display = ("cluster", "as_of", "gpu_count", "aggregate_tpp", "h100_equivalents", "risk_score", "rule")
    list_filter = ("as_of", "rule")
    search_fields = ("cluster__name",)
    list_select_related = ("cluster",)


class FindingEventInline(ViewOnlyMixin, admin.TabularInline):
    model = models.FindingEvent
    fields = ("at", "actor", "from_status", "to_status", "note")
    extra = 0


@admin.register(models.Finding)
class FindingAdmin(ViewOnlyAdmin):
    list_display = ("title", "kind", "severity", "status", "subject_type", "subject_id", "last_seen", "occurrences")
    list_filter = ("status", "severity", "kind")
    search_fields = ("title", "dedup_key")
    readonly_fields = ("triage",)
    inlines = [FindingEventInline]

    @admin.display(description="Triage")
    def triage(self, obj):
        return format_html('<a href="{}">Triage in the officer UI</a> (every step is a FindingEvent with a note)',
                           reverse("web:finding", args=[obj.pk]))
