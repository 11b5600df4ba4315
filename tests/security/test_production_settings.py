"""What `check --deploy` asks for, observed on real responses of config.production (in a
subprocess: settings load once per process): plain HTTP is redirected to HTTPS, HTTPS answers
carry HSTS, and the session and CSRF cookies are Secure and HttpOnly (session) so they never
travel in clear or reach page scripts."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = r'''
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("collectstatic", verbosity=0, interactive=False)  # the manifest storage needs it
from django.contrib.auth import get_user_model
from django.test import Client
get_user_model().objects.create_user("officer", password="pw-officer-chipwatch")
client = Client()
plain = client.get("/login/")
secure = client.get("/login/", secure=True)
login = client.post("/login/", {"username": "officer", "password": "pw-officer-chipwatch",
                                "csrfmiddlewaretoken": secure.cookies["csrftoken"].value}, secure=True)
cookie = lambda c: {"secure": bool(c["secure"]), "httponly": bool(c["httponly"]), "samesite": c["samesite"]}
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "hsts": secure.get("Strict-Transport-Security"),
    "login": login.status_code,
    "csrftoken": cookie(secure.cookies["csrftoken"]),
    "sessionid": cookie(login.cookies["sessionid"]),
    "nosniff": secure.get("X-Content-Type-Options"), "frame": secure.get("X-Frame-Options"),
}))
'''


def test_production_redirects_to_https_with_hsts_and_secure_cookies(tmp_path):
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.production", SECRET_KEY="p" * 30 + "-test-key-" * 3,
               ALLOWED_HOSTS="testserver", DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
               CHIPWATCH_VAR_DIR=str(tmp_path))
    env.pop("REDIS_URL", None), env.pop("CELERY_BROKER_URL", None)
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://testserver/login/"]
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["login"] == 302
    assert seen["sessionid"] == {"secure": True, "httponly": True, "samesite": "Lax"}
    assert seen["csrftoken"]["secure"] is True
    assert seen["nosniff"] == "nosniff" and seen["frame"] == "DENY"


def _django(code: str, **env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_production_refuses_the_repositorys_embedded_secret_key(tmp_path):
    from config.settings import EMBEDDED_SECRET_KEY

    done = _django("import django; django.setup()", DJANGO_SETTINGS_MODULE="config.production",
                   SECRET_KEY=EMBEDDED_SECRET_KEY, DATABASE_URL=f"sqlite:///{tmp_path / 'p.sqlite3'}",
                   CHIPWATCH_VAR_DIR=str(tmp_path))
    assert done.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is the repository's embedded key" in done.stderr
    low_entropy = _django("import django; django.setup()", DJANGO_SETTINGS_MODULE="config.production",
                          SECRET_KEY="ab" * 30, DATABASE_URL=f"sqlite:///{tmp_path / 'p.sqlite3'}",
                          CHIPWATCH_VAR_DIR=str(tmp_path))
    assert low_entropy.returncode != 0 and "at least 50 random characters" in low_entropy.stderr


CHECK = "import django; django.setup(); from django.core.management import call_command; call_command('check')"


def test_plain_settings_with_a_database_url_warn_loudly_about_the_embedded_key(tmp_path):
    """Decided: warn, not refuse (CI runs config.settings against PostgreSQL); every manage.py command
    shows chipwatch.W001 and every process logs it at start."""
    database = f"sqlite:///{tmp_path / 'w.sqlite3'}"
    embedded = _django(CHECK, DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=database,
                       CHIPWATCH_VAR_DIR=str(tmp_path))
    assert embedded.returncode == 0, embedded.stderr
    assert "chipwatch.W001" in embedded.stderr and "forge session cookies" in embedded.stderr
    assert embedded.stderr.count("chipwatch.W001") == 2  # the start-up log line and the system check
    own_key = _django(CHECK, DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=database,
                      SECRET_KEY="k" * 20 + "-own-key-" * 4, CHIPWATCH_VAR_DIR=str(tmp_path))
    embedded_demo = _django(CHECK, DJANGO_SETTINGS_MODULE="config.settings", CHIPWATCH_VAR_DIR=str(tmp_path))
    assert "chipwatch.W001" not in own_key.stderr + embedded_demo.stderr
