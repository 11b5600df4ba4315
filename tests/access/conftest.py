from tests.api.fleet import _fast_password_hashing, family_a, family_b, users  # noqa: F401  (fixtures)
