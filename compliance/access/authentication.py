"""DRF authentication by hashed API token (compliance.access.services issues them)."""
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiToken
from .services import token_digest

# last_used_at is bookkeeping: written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <token>`, looked up by digest; the token's role caps the user's rights."""

    def authenticate_credentials(self, key):
        token = (ApiToken.objects.select_related("user").filter(digest=token_digest(key), revoked_at__isnull=True)
                 .first())
        if token is None:
            raise exceptions.AuthenticationFailed("invalid or revoked token")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("user inactive or deleted")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.user.chipwatch_token_role = token.role
        return token.user, token
