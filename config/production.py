"""Deployment settings: everything in config.settings, hardened.  Passes `check --deploy`."""
import os

from django.core.exceptions import ImproperlyConfigured

from .settings import *  # noqa: F401,F403
from .settings import EMBEDDED_SECRET_KEY, env_bool


def _deployment_secret_key() -> str:
    """The key from the environment, refused if it is the repository's, short, or hardly random."""
    key = os.environ.get("SECRET_KEY", "")
    if key == EMBEDDED_SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY is the repository's embedded key, which is public: set your own "
                                   "(50+ random characters) in production")
    if len(key) < 50 or len(set(key)) < 5:
        raise ImproperlyConfigured("SECRET_KEY must be set to at least 50 random characters in production")
    return key


SECRET_KEY = _deployment_secret_key()

DEBUG = False
CHIPWATCH_ACCEPT_SYNTHETIC = env_bool("CHIPWATCH_ACCEPT_SYNTHETIC", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# Prometheus scrapes over the private network in plain HTTP (CHIPWATCH_METRICS_TOKEN guards it).
SECURE_REDIRECT_EXEMPT = [r"^metrics$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
