"""DRF permission classes for the roles.  Scope narrows querysets (404 outside it); these refuse
what scope cannot express: a user with no role at all, an auditor asking to triage."""
from rest_framework.permissions import BasePermission

from .scope import Capability, user_scope


class HasReadRole(BasePermission):
    """Any role may read (what it sees is narrowed by scope); a user with no role is refused."""

    message = "this account has no chipwatch role (auditor, officer or admin)"

    def has_permission(self, request, view):
        return user_scope(request.user, Capability.READ).granted


class CanTriageObject(BasePermission):
    """Triage needs an officer or admin role over the object's organization family.

    Checked on the object only, after the scoped lookup: an object outside the user's read
    scope has already answered 404, so a refusal here (403) tells nothing new.
    """

    message = "triage needs an officer or admin role over this organization family"

    def has_object_permission(self, request, view, obj):
        return user_scope(request.user, Capability.TRIAGE).contains(obj, view.scope_lookups)
