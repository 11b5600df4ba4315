"""What the access commands share: who the change is attributed to in the audit log."""
from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.core.management import CommandError

from compliance.audit.context import audit_context


def user_named(username: str):
    try:
        return get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"no user named {username!r}")


@contextmanager
def cli_audit(command: str, by: str | None):
    """Audit events written inside name the command (request id) and, with --by, the person."""
    with audit_context(request_id=f"manage.py:{command}", user=user_named(by) if by else None):
        yield


def add_by_argument(parser):
    parser.add_argument("--by", metavar="USERNAME", help="who is doing this (recorded in the audit log)")
