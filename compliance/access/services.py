"""API tokens: issued once in plain text, stored as SHA-256, revoked for good.

A token is 32 random bytes (256 bits), so a plain SHA-256 is enough to make the stored
digest useless to whoever reads the table: there is no password to guess behind it.
"""
from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from .models import ApiToken, Role

TOKEN_PREFIX = "cwt_"


def token_digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def api_token_create(*, user, label: str = "", role: str = "", created_by=None) -> tuple[ApiToken, str]:
    """Issue a token for `user`; the plaintext is returned here and nowhere else, ever."""
    if role and role not in Role.values:
        raise ValueError(f"unknown role {role!r} (one of {', '.join(Role.values)})")
    if not user.is_active:
        raise ValueError(f"user {user.get_username()!r} is inactive")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(user=user, label=label[:200], role=role, prefix=plaintext[:12],
                                        digest=token_digest(plaintext), created_by=created_by)
    return token, plaintext


def api_token_revoke(*, token: ApiToken, revoked_by=None) -> ApiToken:
    """Revoke for good: the next request with it is 401.  Revoking twice keeps the first revocation."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is None:
            token.revoked_at, token.revoked_by = timezone.now(), revoked_by
            token.save(update_fields=["revoked_at", "revoked_by"])
    return token
