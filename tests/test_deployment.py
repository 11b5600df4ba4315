"""The production paths CI cannot run: the compose file and `check --deploy`."""
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def settings_env_names() -> set[str]:
    """Every environment variable the settings modules read."""
    names = set()
    for module in ("config/settings.py", "config/production.py"):
        text = (ROOT / module).read_text()
        names |= set(re.findall(r'(?:environ\.get|environ\[|env_bool|env_list)\(?\s*"([A-Z_]+)"', text))
    return names


def test_compose_services_and_commands_match_the_code():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], f"{name} has no health check"
    assert {"pgdata", "redisdata"} <= set(compose["volumes"])
    assert "gunicorn config.wsgi:application" in " ".join(services["web"]["command"])
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    beat = services["beat"]["command"]
    assert beat[:4] == ["celery", "-A", "config", "beat"]
    from django.conf import settings

    assert beat[beat.index("--scheduler") + 1] == settings.CELERY_BEAT_SCHEDULER
    assert (ROOT / "config" / "wsgi.py").exists() and (ROOT / "config" / "celery.py").exists()


def test_compose_environment_is_what_settings_read():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    read = settings_env_names() | {"DJANGO_SETTINGS_MODULE"}
    for name in ("web", "worker", "beat"):
        env = compose["services"][name]["environment"]
        unknown = set(env) - read
        assert not unknown, f"{name} sets variables no settings module reads: {unknown}"
        assert env["DJANGO_SETTINGS_MODULE"] == "config.production"
        assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"} <= set(env)
    assert compose["services"]["web"]["environment"]["CHIPWATCH_ACCEPT_SYNTHETIC"] == "0"


def test_production_settings_pass_check_deploy():
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.production", SECRET_KEY="x" * 20 + "k3y-" * 10,
               ALLOWED_HOSTS="chipwatch.example.com")
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_a_missing_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["DJANGO_SETTINGS_MODULE"] = "config.production"
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_monitoring_files_scrape_the_service_and_chart_only_series_it_exports():
    """prometheus.yml scrapes web's /metrics; every series the Grafana dashboard queries is one config/metrics.py
    defines (a renamed metric would leave a silently empty panel)."""
    scrape = yaml.safe_load((ROOT / "prometheus.yml").read_text())
    job = scrape["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics" and job["static_configs"][0]["targets"] == ["web:8000"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert "web" in compose["services"]["web"]["environment"]["ALLOWED_HOSTS"].split(",")

    import json

    metrics_source = (ROOT / "config" / "metrics.py").read_text()
    exported = set(re.findall(r'"(chipwatch_[a-z_]+)"', metrics_source))
    dashboard = json.loads((ROOT / "grafana-dashboard.json").read_text())
    queried = {re.sub(r"_(bucket|count|sum)$", "", name) for panel in dashboard["panels"]
               for target in panel["targets"] for name in re.findall(r"chipwatch_[a-z_]+", target["expr"])}
    assert queried and queried <= exported, f"dashboard queries series nobody exports: {queried - exported}"
