from tests.api.fleet import _fast_password_hashing  # noqa: F401  (fixture)
