"""The two-family fleet with HTML in an organization's name and aliases (tests/api/fleet.py), and a
cache emptied around each test so the per-address failure counters of config/limits.py start at 0."""
import pytest

from tests.api.fleet import _fast_password_hashing, family_a, family_b, users  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def _empty_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
