from django.contrib import admin

from config.admin import ViewOnlyAdmin

from . import models


@admin.register(models.Landmark)
class LandmarkAdmin(admin.ModelAdmin):
    list_display = ("name", "country", "latitude", "longitude", "address", "registered_at", "retired_at")
    list_filter = ("country",)
    search_fields = ("name", "address")
    readonly_fields = ("public_key", "registered_at", "provenance")


@admin.register(models.Challenge)
class ChallengeAdmin(ViewOnlyAdmin):
    """Issued by the challenge service alone: a hand-made nonce would let a measurement be precomputed."""

    list_display = ("nonce", "landmark", "agent", "issued_at", "expires_at", "used_at")
    list_filter = ("landmark",)
    list_select_related = ("landmark", "agent")


@admin.register(models.Measurement)
class MeasurementAdmin(ViewOnlyAdmin):
    """Signed evidence: viewable, never editable."""

    list_display = ("id", "host", "landmark", "rtt_min_ms", "gpu_attestation", "measured_at", "verified_at")
    list_filter = ("landmark", "gpu_attestation")
    search_fields = ("host__hostname",)
    list_select_related = ("host", "landmark")
