"""Start-up checks on the settings that `check --deploy` does not know are ours.

A database URL alone does not make a deployment (CI and developers run the suite against a real
PostgreSQL with config.settings), so the embedded SECRET_KEY there is a loud warning rather than a
refusal: shown by every manage.py command and logged by every process at start.  config.production
refuses the key outright.
"""
import logging
import os

from django.conf import settings
from django.core import checks

log = logging.getLogger("chipwatch.settings")

EMBEDDED_KEY_WITH_DATABASE = (
    "SECRET_KEY is the repository's embedded key while DATABASE_URL points at a real database: anyone with "
    "this repository can forge session cookies and password-reset links.  Set SECRET_KEY (50+ random "
    "characters) or run config.production, which refuses this key."
)


def embedded_key_in_use() -> bool:
    return bool(os.environ.get("DATABASE_URL")) and settings.SECRET_KEY == settings.EMBEDDED_SECRET_KEY


@checks.register(checks.Tags.security)
def embedded_secret_key_check(app_configs=None, **kwargs):
    if not embedded_key_in_use():
        return []
    return [checks.Warning(EMBEDDED_KEY_WITH_DATABASE, hint="export SECRET_KEY=$(python -c 'import secrets; "
                           "print(secrets.token_urlsafe(50))')", id="chipwatch.W001")]


def warn_at_start() -> None:
    """For the processes that run no system checks (gunicorn workers, Celery)."""
    if embedded_key_in_use():
        log.warning("chipwatch.W001: %s", EMBEDDED_KEY_WITH_DATABASE)
