"""Static files and API docs pages: served with DEBUG off, and nothing loaded from another origin."""
import os
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
ASSET_REF = re.compile(r'(?:src|href)="([^"#]+)"')
PAGES = ("/login/", "/api/docs/", "/api/redoc/")


def _assets(html: str) -> list[str]:
    return [ref for ref in ASSET_REF.findall(html) if not ref.startswith("?")]


def test_pages_reference_only_this_origin_and_every_asset_is_served(client):
    assert settings.DEBUG is False
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, page
        refs = _assets(response.content.decode())
        assert refs, page
        off_origin = [ref for ref in refs if "//" in ref]
        assert not off_origin, f"{page} loads {off_origin}"
        for ref in refs:
            if ref.startswith("/static/"):
                asset = client.get(ref)
                assert asset.status_code == 200, ref
                b"".join(asset.streaming_content) if asset.streaming else asset.content


def test_swagger_and_redoc_scripts_are_the_sidecar_copies(client):
    swagger = client.get("/api/docs/").content.decode()
    redoc = client.get("/api/redoc/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in swagger
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in redoc
    assert "fonts.googleapis.com" not in redoc


PRODUCTION_PROBE = """
import re, django
django.setup()
from django.test import Client
client = Client()
html = client.get("/login/", secure=True).content.decode()
refs = [r for r in re.findall(r'(?:src|href)="(/static/[^"]+)"', html)]
assert refs and all(".css" in r or ".js" in r for r in refs), refs
for ref in refs:
    assert re.search(r"\\.[0-9a-f]{12}\\.", ref), "not the hashed name: " + ref
    response = client.get(ref, secure=True)
    assert response.status_code == 200, (ref, response.status_code)
for page in ("/api/docs/", "/api/redoc/"):
    html = client.get(page, secure=True).content.decode()
    for ref in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(ref, secure=True).status_code == 200, ref
print("ok", len(refs))
"""


def test_production_settings_serve_collected_static_files(tmp_path):
    """The image's path: collectstatic (as the Dockerfile runs it), then hashed names served by WhiteNoise."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.production", SECRET_KEY="s" * 20 + "k3y-" * 10,
               ALLOWED_HOSTS="testserver", CHIPWATCH_VAR_DIR=str(tmp_path))
    collected = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=ROOT, env=env,
                               capture_output=True, text=True)
    assert collected.returncode == 0, collected.stderr
    probe = subprocess.run([sys.executable, "-c", PRODUCTION_PROBE], cwd=ROOT, env=env, capture_output=True,
                           text=True)
    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert probe.stdout.startswith("ok")
