"""What a user may see and do: roles turned into organization-family scopes.

A scope is the set of organizations a user may act on for one capability (read or
triage).  Every read path (REST and web) narrows its queryset through it, so an
object outside scope is simply absent: asking for it by id answers 404, not 403,
and ids leak nothing about other tenants' fleets.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Q, QuerySet

from inventory.selectors import organization_family_ids

from .models import Role, RoleGrant


class Capability(StrEnum):
    READ = "read"
    TRIAGE = "triage"


ROLES_WITH = {
    Capability.READ: (Role.AUDITOR, Role.OFFICER, Role.ADMIN),
    Capability.TRIAGE: (Role.OFFICER, Role.ADMIN),
}


@dataclass(frozen=True)
class Scope:
    everything: bool = False
    organization_ids: frozenset[int] = frozenset()

    @property
    def granted(self) -> bool:
        return self.everything or bool(self.organization_ids)

    def filter(self, queryset: QuerySet, lookups: tuple[str, ...]) -> QuerySet:
        """Keep the rows reachable through any of `lookups` (paths to an Organization)."""
        if self.everything:
            return queryset
        if not self.organization_ids or not lookups:
            return queryset.none()
        condition = Q()
        for lookup in lookups:
            condition |= Q(**{f"{lookup}__in": self.organization_ids})
        return queryset.filter(condition)

    def contains(self, obj, lookups: tuple[str, ...]) -> bool:
        return self.everything or self.filter(type(obj)._default_manager.filter(pk=obj.pk), lookups).exists()


NOTHING = Scope()
EVERYTHING = Scope(everything=True)


def user_scope(user, capability: Capability) -> Scope:
    """The user's scope for one capability, computed once per user object (i.e. per request)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NOTHING
    # Set by compliance.access.authentication for a request made with a role-capped API token.
    token_role = getattr(user, "chipwatch_token_role", "")
    if token_role and token_role not in ROLES_WITH[capability]:
        return NOTHING
    if user.is_superuser:
        return EVERYTHING
    cache = user.__dict__.setdefault("_chipwatch_scopes", {})
    if capability not in cache:
        cache[capability] = _scope_from_grants(user, capability)
    return cache[capability]


def _scope_from_grants(user, capability: Capability) -> Scope:
    granted = set(RoleGrant.objects.filter(user=user, role__in=ROLES_WITH[capability])
                  .values_list("organization_id", flat=True))
    if not granted:
        return NOTHING
    if None in granted:
        return EVERYTHING
    return Scope(organization_ids=frozenset(organization_family_ids(granted)))


def users_with(capability: Capability, organization_ids) -> QuerySet:
    """Active users holding `capability` over any of the given organizations' families (e.g. triage assignees)."""
    from django.contrib.auth import get_user_model

    family = organization_family_ids([i for i in organization_ids if i is not None])
    granted = Q(is_superuser=True) | Q(role_grants__role__in=ROLES_WITH[capability],
                                       role_grants__organization__isnull=True)
    if family:
        granted |= Q(role_grants__role__in=ROLES_WITH[capability], role_grants__organization_id__in=family)
    return get_user_model().objects.filter(granted, is_active=True).distinct().order_by("username")


def user_roles(user) -> set[str]:
    if user is None or not user.is_authenticated:
        return set()
    roles = set(RoleGrant.objects.filter(user=user).values_list("role", flat=True))
    return roles | ({Role.ADMIN} if user.is_superuser else set())


class ScopedQuerysetMixin:
    """For REST viewsets and Django views alike: the queryset, narrowed to what the user may read.

    `scope_lookups` are the paths from the view's model to inventory.Organization; a row
    reachable through any of them is in scope.
    """

    scope_lookups: tuple[str, ...] = ()
    scope_capability = Capability.READ

    def get_queryset(self):
        return user_scope(self.request.user, self.scope_capability).filter(super().get_queryset(), self.scope_lookups)
