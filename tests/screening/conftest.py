"""Fixtures for screening: the CSL fixture files, an imported list, organizations, an officer."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CSL_JSON = FIXTURES / "csl" / "consolidated.json"
CSL_CSV = FIXTURES / "csl" / "consolidated.csv"


@pytest.fixture
def csl_document() -> dict:
    return json.loads(CSL_JSON.read_text(encoding="utf-8"))


@pytest.fixture
def write_csl(tmp_path):
    """Write a CSL JSON document (a variant of the fixture) to a file and return its path."""
    counter = iter(range(1, 1000))

    def write(document: dict) -> Path:
        path = tmp_path / f"consolidated-{next(counter)}.json"
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def import_list(db, django_capture_on_commit_callbacks):
    """Import a CSL file through the service, running its on-commit re-screen as production would."""
    from compliance.screening import services

    def run(path: Path = CSL_JSON):
        with django_capture_on_commit_callbacks(execute=True):
            return services.screening_list_import(path=path).screening_list

    return run


@pytest.fixture
def make_org(db):
    """Create an organization without its save hook enqueueing a screen (tests screen explicitly)."""
    from inventory.models import Organization, Site

    def make(name: str, *, aliases=(), country="CN", cities=()):
        org = Organization.objects.create(name=name, aliases=list(aliases), country_of_incorporation=country,
                                          headquarters_country=country)
        for i, city in enumerate(cities):
            Site.objects.create(name=f"site-{i}", organization=org, country=country, city=city)
        return org

    return make


@pytest.fixture
def screen():
    from compliance.screening import services

    def run(org):
        return services.organization_screen(organization_id=org.pk)

    return run


@pytest.fixture
def officer(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("officer", password="x" * 12)
