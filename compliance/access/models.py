"""Who may see and do what: one row per (user, role, organization family).

Agents are not users: an agent may only post reports for its own host, which
ingest enforces with the agent's Ed25519 signature (inventory.services.report_ingest);
a signed report carries no user and reaches nothing else.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    AUDITOR = "auditor", "auditor (read-only)"
    OFFICER = "officer", "officer (read and triage)"
    ADMIN = "admin", "admin (everything, every family)"


class RoleGrant(models.Model):
    """A role over one organization family (its ultimate parent and everything below), or over all.

    The grant names any organization of the family; the scope follows the family as it is
    when a request is served, so an acquisition moves the acquired fleet into the new
    parent's grants without editing them.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(max_length=16, choices=Role.choices)
    organization = models.ForeignKey(
        "inventory.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="role_grants",
        help_text="The organization family granted; empty: every organization",
    )
    granted_at = models.DateTimeField(auto_now_add=True)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["user", "role"]
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "organization"], name="role_grant_unique_family"),
            models.UniqueConstraint(fields=["user", "role"], condition=Q(organization__isnull=True),
                                    name="role_grant_unique_global"),
        ]

    def __str__(self):
        return f"{self.user} {self.role} of {self.organization or 'all organizations'}"


class ApiToken(models.Model):
    """A bearer token for the REST API; only its SHA-256 is stored, the plaintext is shown once.

    A token acts as its user, narrowed to `role` when one is set (an officer can hand an
    auditor's read-only token to a script).  Revocation is final: a revoked row is kept as the
    record of who could act until when.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    label = models.CharField(max_length=200, blank=True, help_text="What the token is for, e.g. 'quarterly audit'")
    role = models.CharField(max_length=16, choices=Role.choices, blank=True,
                            help_text="At most this role's rights; empty: all of the user's roles")
    prefix = models.CharField(max_length=12, help_text="The token's first characters, to recognise it in a list")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.prefix}… of {self.user}"
