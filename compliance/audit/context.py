"""Who is acting and under which request id, for the audit events written meanwhile."""
from __future__ import annotations

import contextvars
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class AuditActor:
    request_id: str
    request: object | None = None  # the HttpRequest: its user is read when an event is written (after DRF auth)
    user: object | None = None

    def resolve_user(self):
        if self.user is not None:
            return self.user
        user = getattr(self.request, "user", None)
        return user if user is not None and user.is_authenticated else None


_current: contextvars.ContextVar[AuditActor | None] = contextvars.ContextVar("chipwatch_audit_actor", default=None)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def current_actor() -> AuditActor:
    return _current.get() or AuditActor(request_id="")


def clean_request_id(candidate: str | None) -> str:
    """A caller's X-Request-ID if it is a sane token, else a fresh UUID."""
    return candidate if candidate and _REQUEST_ID.match(candidate) else str(uuid.uuid4())


@contextmanager
def audit_context(*, request_id: str | None = None, request=None, user=None):
    """Attribute the changes made inside to this request or user (management commands, tasks, tests)."""
    token = _current.set(AuditActor(request_id=clean_request_id(request_id), request=request, user=user))
    try:
        yield _current.get()
    finally:
        _current.reset(token)
