"""Reads for the access pages and commands: which secrets and tokens a user may see and manage.

Managing them needs the officer (triage) capability: an officer manages the enrollment secrets of
the clusters their families operate, and the tokens of users whose every grant lies inside those
families (never a global admin's); a global officer or admin manages all.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from inventory.models import Cluster, EnrollmentSecret

from .models import ApiToken, RoleGrant
from .scope import Capability, user_scope

SECRET_SCOPE = ("cluster__operator",)


def enrollment_secret_state(secret: EnrollmentSecret, now=None) -> str:
    now = now or timezone.now()
    if secret.revoked_at:
        return "revoked"
    if secret.expires_at and secret.expires_at <= now:
        return "expired"
    if secret.max_uses is not None and secret.uses >= secret.max_uses:
        return "used up"
    return "live"


def enrollment_secrets_managed(user) -> QuerySet:
    queryset = EnrollmentSecret.objects.select_related("cluster__site").order_by("-created_at", "-id")
    return user_scope(user, Capability.TRIAGE).filter(queryset, SECRET_SCOPE)


def clusters_managed(user) -> QuerySet:
    return user_scope(user, Capability.TRIAGE).filter(Cluster.objects.select_related("site"), ("operator",))


def token_users_managed(user) -> QuerySet:
    """Users the officer may issue tokens for and whose tokens they may list and revoke."""
    users = get_user_model().objects.filter(is_active=True).order_by("username")
    scope = user_scope(user, Capability.TRIAGE)
    if scope.everything:
        return users
    if not scope.granted:
        return users.none()
    outside = RoleGrant.objects.filter(Q(organization__isnull=True) | ~Q(organization_id__in=scope.organization_ids))
    inside = RoleGrant.objects.filter(organization_id__in=scope.organization_ids)
    return users.filter(Q(pk=user.pk) | Q(pk__in=inside.values("user_id"), is_superuser=False)).exclude(
        ~Q(pk=user.pk), pk__in=outside.values("user_id"))


def api_tokens_managed(user) -> QuerySet:
    return (ApiToken.objects.filter(user__in=token_users_managed(user))
            .select_related("user", "created_by", "revoked_by"))
