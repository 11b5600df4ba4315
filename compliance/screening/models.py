"""Imported screening lists, their entries, and what screening found.

Every import is kept whole (a list version is evidence of what was screened
against); hits point at the entry row of the version that last matched.
"""
from django.conf import settings
from django.db import models


class ScreeningList(models.Model):
    """One imported file of a screening list, identified by its SHA-256."""

    source = models.CharField(max_length=200, default="US Consolidated Screening List")
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=8)
    version = models.CharField(max_length=64, help_text="As the file states it, else the file's date")
    sha256 = models.CharField(max_length=64, unique=True)
    imported_at = models.DateTimeField(db_index=True)
    entry_count = models.PositiveIntegerField()

    class Meta:
        ordering = ["-imported_at", "-id"]

    def __str__(self):
        return f"{self.source} {self.version}"


class ListEntry(models.Model):
    screening_list = models.ForeignKey(ScreeningList, on_delete=models.CASCADE, related_name="entries")
    entry_key = models.CharField(max_length=120, help_text="Stable across list versions: source code and list id")
    source_id = models.CharField(max_length=80)
    source_list = models.CharField(max_length=200, help_text="e.g. Entity List (EL) - Bureau of Industry and Security")
    source_code = models.CharField(max_length=16, db_index=True)
    entity_number = models.CharField(max_length=32, blank=True)
    entry_type = models.CharField(max_length=32, blank=True)
    name = models.CharField(max_length=500)
    alt_names = models.JSONField(default=list, blank=True)
    addresses = models.JSONField(default=list, blank=True, help_text='[{"line": ..., "country": "CN"}]')
    countries = models.JSONField(default=list, blank=True)
    programs = models.JSONField(default=list, blank=True)
    federal_register_notice = models.TextField(blank=True)
    start_date = models.DateField(null=True, blank=True)
    remarks = models.TextField(blank=True)
    license_requirement = models.TextField(blank=True, help_text="Entity List: the entry's licence requirement, "
                                           "as published (e.g. 'For all items subject to the EAR')")
    license_policy = models.TextField(blank=True, help_text="Entity List: the entry's review policy, as published")
    source_list_url = models.TextField(blank=True)
    source_information_url = models.TextField(blank=True)
    normalized_name = models.CharField(max_length=500, db_index=True)
    fingerprint = models.CharField(max_length=64)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "list entries"
        constraints = [
            models.UniqueConstraint(fields=["screening_list", "entry_key"], name="list_entry_unique_key_per_list"),
        ]

    def __str__(self):
        return f"{self.name} ({self.source_code})"


class ListEntryKey(models.Model):
    """A blocking key of one entry: screening reads only entries sharing a key with the organization."""

    screening_list = models.ForeignKey(ScreeningList, on_delete=models.CASCADE, related_name="+")
    entry = models.ForeignKey(ListEntry, on_delete=models.CASCADE, related_name="blocking_keys")
    key = models.CharField(max_length=40)

    class Meta:
        indexes = [models.Index(fields=["screening_list", "key"])]


class ScreeningHit(models.Model):
    """An organization that scored at or above the threshold against one list entry."""

    class Status(models.TextChoices):
        OPEN = "open"
        CONFIRMED = "confirmed"
        FALSE_POSITIVE = "false_positive", "false positive"
        CLEARED = "cleared", "cleared (no longer matches)"

    organization = models.ForeignKey("inventory.Organization", on_delete=models.CASCADE,
                                     related_name="screening_hits")
    entry_key = models.CharField(max_length=120)
    entry = models.ForeignKey(ListEntry, on_delete=models.PROTECT, related_name="hits")
    score = models.FloatField()
    explanation = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    finding = models.ForeignKey("compliance.Finding", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    organization_fingerprint = models.CharField(max_length=64)
    entry_fingerprint = models.CharField(max_length=64)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["-score"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "entry_key"], name="screening_hit_unique_per_entry"),
        ]

    def __str__(self):
        return f"{self.organization_id} ~ {self.entry_key} ({self.score:.2f})"


class Adjudication(models.Model):
    """An officer's verdict on a hit, with the fingerprints of what they looked at.  Never edited."""

    class Verdict(models.TextChoices):
        FALSE_POSITIVE = "false_positive", "false positive"
        CONFIRMED = "confirmed", "confirmed match"

    hit = models.ForeignKey(ScreeningHit, on_delete=models.CASCADE, related_name="adjudications")
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    reason = models.TextField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    organization_fingerprint = models.CharField(max_length=64)
    entry_fingerprint = models.CharField(max_length=64)

    class Meta:
        ordering = ["-at", "-id"]
