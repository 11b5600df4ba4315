"""Landmarks, the challenges the server issues through them, and the round trips they measure.

A Landmark's position is declared by whoever runs it (and is only as good as that
operator); a Measurement is server-side timing (`measured`): the landmark's clock,
the agent's signature over our nonce, the landmark's signature over the report.
"""
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from inventory.models import AppendOnlyModel, CountryField, Provenance


class Landmark(models.Model):
    name = models.CharField(max_length=100, unique=True)
    latitude = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])
    country = CountryField()
    public_key = models.CharField(max_length=64, unique=True, help_text="Raw Ed25519 public key, base64")
    address = models.CharField(max_length=255, blank=True, help_text="HOST:PORT agents dial to be challenged")
    registered_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True, help_text="Set to stop trusting this landmark")
    provenance = models.CharField(max_length=10, choices=Provenance.choices, default=Provenance.DECLARED)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(latitude__gte=-90, latitude__lte=90), name="landmark_latitude_range"),
            models.CheckConstraint(condition=Q(longitude__gte=-180, longitude__lte=180),
                                   name="landmark_longitude_range"),
        ]

    def __str__(self):
        return f"{self.name} ({self.country})"


class Challenge(models.Model):
    """A nonce the server issued for one landmark to put to one agent; good once, until it expires."""

    landmark = models.ForeignKey(Landmark, on_delete=models.PROTECT, related_name="challenges")
    agent = models.ForeignKey("inventory.Agent", on_delete=models.PROTECT, related_name="location_challenges")
    nonce = models.CharField(max_length=32, unique=True, help_text="16 random bytes, hex: the first half of every "
                                                                   "round's nonce")
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["landmark", "agent", "issued_at"])]

    def __str__(self):
        return f"challenge {self.nonce[:8]}… {self.landmark.name} → {self.agent_id}"


class Measurement(AppendOnlyModel):
    """The round trips one landmark timed for one challenge, as the landmark signed them."""

    class GpuAttestation(models.TextChoices):
        UNSUPPORTED = "unsupported", "unsupported (the bound applies to the agent key only)"
        SYNTHETIC = "synthetic", "synthetic (fake NVML backend; never attestation)"
        UNVERIFIED = "unverified", "evidence kept, not verified against NVIDIA's chain"

    challenge = models.OneToOneField(Challenge, on_delete=models.PROTECT, related_name="measurement")
    landmark = models.ForeignKey(Landmark, on_delete=models.PROTECT, related_name="measurements")
    agent = models.ForeignKey("inventory.Agent", on_delete=models.PROTECT, related_name="location_measurements")
    host = models.ForeignKey("inventory.Host", on_delete=models.PROTECT, related_name="location_measurements")
    rtt_samples_ms = models.JSONField(help_text="Every valid round, in order")
    rtt_min_ms = models.FloatField(help_text="The least round trip: the one the bound uses")
    rounds = models.JSONField(help_text="Per round: nonce, RTT, the agent's signature, GPU evidence or marker")
    gpu_attestation = models.CharField(max_length=12, choices=GpuAttestation.choices)
    payload = models.JSONField(help_text="The landmark's report exactly as signed")
    payload_sha256 = models.CharField(max_length=64)
    landmark_signature = models.CharField(max_length=100)
    measured_at = models.DateTimeField(help_text="The landmark's clock")
    verified_at = models.DateTimeField(help_text="When the server checked both signatures and the nonces")
    provenance = models.CharField(max_length=10, choices=Provenance.choices, default=Provenance.MEASURED)

    class Meta:
        ordering = ["-verified_at"]
        indexes = [models.Index(fields=["host", "verified_at"])]
        constraints = [models.CheckConstraint(condition=Q(rtt_min_ms__gt=0), name="measurement_rtt_positive")]

    def __str__(self):
        return f"{self.landmark.name} → {self.host}: {self.rtt_min_ms:.3f} ms"
