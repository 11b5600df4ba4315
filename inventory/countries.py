"""ISO 3166-1 alpha-2 country codes, the one form every country is stored in."""
import pycountry
from django.core.exceptions import ValidationError

COUNTRY_CODES = frozenset(c.alpha_2 for c in pycountry.countries)
COUNTRY_CHOICES = sorted((c.alpha_2, f"{c.alpha_2} — {c.name}") for c in pycountry.countries)


def validate_country(value: str) -> None:
    if value not in COUNTRY_CODES:
        raise ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. US, CN, SG)")
