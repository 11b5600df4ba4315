"""Screening data is written only by the import command and the services, and kept as evidence:
the admin shows it and neither edits nor deletes it."""
from django.contrib import admin

from config.admin import ViewOnlyAdmin, ViewOnlyMixin

from . import models


@admin.register(models.ScreeningList)
class ScreeningListAdmin(ViewOnlyAdmin):
    list_display = ("source", "version", "file_name", "file_format", "entry_count", "imported_at", "sha256")
    search_fields = ("version", "sha256", "file_name")


@admin.register(models.ListEntry)
class ListEntryAdmin(ViewOnlyAdmin):
    list_display = ("name", "source_code", "entity_number", "countries", "federal_register_notice", "start_date",
                    "screening_list")
    list_filter = ("source_code", "screening_list")
    search_fields = ("name", "normalized_name", "entity_number", "source_id")
    list_select_related = ("screening_list",)


class AdjudicationInline(ViewOnlyMixin, admin.TabularInline):
    model = models.Adjudication
    fields = ("at", "user", "verdict", "reason")
    extra = 0


@admin.register(models.ScreeningHit)
class ScreeningHitAdmin(ViewOnlyAdmin):
    list_display = ("organization", "entry", "score", "status", "finding", "last_seen")
    list_filter = ("status", "entry__source_code")
    search_fields = ("organization__name", "entry__name", "entry_key")
    list_select_related = ("organization", "entry", "finding")
    inlines = [AdjudicationInline]


@admin.register(models.Adjudication)
class AdjudicationAdmin(ViewOnlyAdmin):
    list_display = ("hit", "verdict", "user", "at")
    list_filter = ("verdict",)
    search_fields = ("hit__organization__name", "hit__entry__name", "reason")
    list_select_related = ("hit__organization", "hit__entry", "user")
