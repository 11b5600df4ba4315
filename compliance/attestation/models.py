"""Server nonces for GPU attestation, and the verified evidence that makes a GPU's facts *attested*.

A fact is attested only by an AttestationRecord with verified=True: NVIDIA evidence over a nonce this server
issued to the GPU's own agent, consumed once, whose signature and chain checked out (docs/attestation.md).
"""
from django.db import models

from inventory.models import AppendOnlyModel


class AttestationNonce(models.Model):
    """32 random bytes the server gave one agent to have its GPUs sign: fresh, single use, expiring."""

    nonce = models.CharField(max_length=64, unique=True, help_text="64 hex digits")
    agent = models.ForeignKey("inventory.Agent", on_delete=models.CASCADE, related_name="attestation_nonces")
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    consumed_by = models.ForeignKey("inventory.Observation", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", help_text="The report whose evidence used it")

    class Meta:
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["agent", "consumed_at", "expires_at"])]

    def __str__(self):
        return f"nonce {self.nonce[:12]}… for agent {self.agent_id}"


class AttestationRecord(AppendOnlyModel):
    """One GPU's evidence as checked: the outcome, the reasons, and what it binds. Never updated."""

    gpu = models.ForeignKey("inventory.Gpu", on_delete=models.PROTECT, related_name="attestation_records")
    host = models.ForeignKey("inventory.Host", on_delete=models.PROTECT, related_name="attestation_records")
    observation = models.ForeignKey("inventory.Observation", on_delete=models.PROTECT, related_name="+",
                                    help_text="The signed report that carried the evidence")
    nonce = models.CharField(max_length=64, help_text="The nonce the report claims to answer")
    nonce_issued = models.BooleanField(help_text="The nonce was issued by this server to this agent, unexpired, "
                                                 "and not used before")
    verified = models.BooleanField(db_index=True)
    chip = models.CharField(max_length=16, blank=True, help_text="Die family the certificate chain names (GH100)")
    reasons = models.JSONField(default=list, help_text='["code: detail", …] for each failed check')
    notes = models.JSONField(default=list, help_text="What was not checked, and why")
    binds = models.JSONField(default=dict, help_text="Device certificate serial, FWID, VBIOS/driver versions, "
                                                     "board identity, nonce")
    measurements = models.JSONField(default=dict)
    cross_check = models.JSONField(default=dict, help_text="Attested facts against what NVML reported")
    report_sha256 = models.CharField(max_length=64)
    certificate_chain = models.TextField(blank=True, help_text="The GPU's attestation certificate chain (PEM) as "
                                                               "received: later evidence (location rounds) is "
                                                               "checked against this attested GPU's key")
    synthetic = models.BooleanField(help_text="Carried by a report from the fake NVML backend")
    verified_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-verified_at", "-id"]
        indexes = [models.Index(fields=["gpu", "verified", "verified_at"])]

    def __str__(self):
        return f"{'verified' if self.verified else 'failed'} attestation of GPU {self.gpu_id} at {self.verified_at}"
