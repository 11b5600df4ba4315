"""Who may read the audit log: it records every tenant's changes, so only a reader of every tenant."""
from rest_framework.permissions import BasePermission

from compliance.access.scope import Capability, user_scope

REFUSED = "the audit log covers every organization: reading it needs a role over all organizations"


def can_read_audit_log(user) -> bool:
    return user_scope(user, Capability.READ).everything


class CanReadAuditLog(BasePermission):
    message = REFUSED

    def has_permission(self, request, view):
        return can_read_audit_log(request.user)
