"""chipwatch settings, read from the environment (12-factor).

With nothing set, chipwatch runs embedded: SQLite under var/, Celery tasks run
in-process.  Set DATABASE_URL and REDIS_URL (or CELERY_BROKER_URL) for the real
stack.  `config.production` hardens these defaults for deployment.
"""
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CHIPWATCH_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false)")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# Public (it is in the repository): fine for the embedded demo, never for a deployment.  config.production
# refuses it; with DATABASE_URL set, config/checks.py warns at every start (chipwatch.W001).
EMBEDDED_SECRET_KEY = "embedded-insecure-key-set-SECRET_KEY-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY") or EMBEDDED_SECRET_KEY
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "inventory",
    "compliance",
    "compliance.access",
    "compliance.audit",
    "compliance.web",
    "compliance.screening.apps.ScreeningConfig",
    "compliance.location",
    "compliance.compute",
    "compliance.attestation",
    "compliance.notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.metrics.IngestMetricsMiddleware",
    "config.limits.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.limits.LoginRateLimitMiddleware",
    "compliance.audit.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "compliance.web.context_processors.chipwatch_roles",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'chipwatch.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded database is one file shared by the web server's threads and the simulated fleet:
    # WAL lets readers run beside the writer, IMMEDIATE transactions take the write lock up front
    # (a deferred one upgrading its lock fails at once with "database is locked"), and writers queue
    # for up to 20 s instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL;"
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
# WhiteNoise warns on every request when the folder is missing (before collectstatic).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# WhiteNoise serves static files whatever DEBUG says: from the apps' static/ folders through the finders
# when nothing ran collectstatic (`make run`, the tests' live server), from STATIC_ROOT after it (the image).
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "web:login"

# --- Celery -----------------------------------------------------------------
# No broker configured → embedded mode: tasks run eagerly in the caller's process.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "celery")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 120
CELERY_TASK_TIME_LIMIT = 180
# A stuck broker (SIGSTOP, a dead NAT entry) must cost an ingest request milliseconds, not a gunicorn timeout:
# every Redis command and connect gives up after CHIPWATCH_BROKER_TIMEOUT_SECONDS, a publish is retried once at
# once, and then ingest gives up on the enqueue (the sweeper re-enqueues the marked host; tests/security).
CHIPWATCH_BROKER_TIMEOUT_SECONDS = float(os.environ.get("CHIPWATCH_BROKER_TIMEOUT_SECONDS", "0.5"))
CELERY_BROKER_CONNECTION_TIMEOUT = CHIPWATCH_BROKER_TIMEOUT_SECONDS
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600, "socket_timeout": CHIPWATCH_BROKER_TIMEOUT_SECONDS,
                                   "socket_connect_timeout": CHIPWATCH_BROKER_TIMEOUT_SECONDS}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "sweep-pending-evaluations": {"task": "compliance.tasks.sweep_pending_evaluations", "schedule": 60.0},
    "rescore-fleet": {"task": "compliance.tasks.rescore_fleet", "schedule": 3600.0},
    "compute-rollup": {"task": "compliance.compute.tasks.rollup_recent", "schedule": 900.0},
    "sweep-pending-attestations": {"task": "compliance.attestation.tasks.sweep_pending_attestations",
                                   "schedule": 300.0},
    "create-partitions-ahead": {"task": "inventory.tasks.partitions_create_ahead", "schedule": 86400.0},
}

# --- REST framework -----------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "compliance.access.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    # JSON nested past the recursion limit is a 400 like any malformed body (config/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["config.parsers.DepthSafeJSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    # Reverse proxies in front of the app whose X-Forwarded-For is trusted (client addresses for limits).
    "NUM_PROXIES": int(os.environ.get("CHIPWATCH_NUM_PROXIES", "0")),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "compliance.api.negotiation.FormatParamNegotiation",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "chipwatch API",
    "DESCRIPTION": "Export-control compliance for AI compute: inventory, agent ingest, audits.",
    "VERSION": "1.0.0",
    "ENUM_NAME_OVERRIDES": {"FindingStatusEnum": "compliance.models.Finding.Status"},
    # Swagger UI and ReDoc from drf-spectacular-sidecar's copies: no page loads anything from another origin.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- chipwatch ----------------------------------------------------------------
# Largest report body accepted; bigger bodies are answered 413 before parsing.
CHIPWATCH_MAX_REPORT_BYTES = int(os.environ.get("CHIPWATCH_MAX_REPORT_BYTES", str(1024 * 1024)))
# POST /api/v1/reports/batch: at most this many reports (an agent draining its spool sends more batches).
CHIPWATCH_BATCH_MAX_REPORTS = int(os.environ.get("CHIPWATCH_BATCH_MAX_REPORTS", "100"))
DATA_UPLOAD_MAX_MEMORY_SIZE = CHIPWATCH_MAX_REPORT_BYTES * 2
# Reports from a fake NVML backend are what a host owner would use to lie:
# accepted only where explicitly allowed (the embedded demo and tests).
CHIPWATCH_ACCEPT_SYNTHETIC = env_bool("CHIPWATCH_ACCEPT_SYNTHETIC", not os.environ.get("DATABASE_URL"))
# The sweeper re-enqueues hosts marked for evaluation longer ago than this (their message was lost).
CHIPWATCH_SWEEP_AFTER_SECONDS = float(os.environ.get("CHIPWATCH_SWEEP_AFTER_SECONDS", "300"))
# Most marked hosts one evaluation batch takes (compliance.evaluation), and how long a queued batch's
# debounce flag lives if that batch never starts (a lost message; the sweeper covers it anyway).
CHIPWATCH_EVALUATION_BATCH_SIZE = int(os.environ.get("CHIPWATCH_EVALUATION_BATCH_SIZE", "1000"))
CHIPWATCH_EVALUATION_REQUEST_TTL_SECONDS = int(os.environ.get("CHIPWATCH_EVALUATION_REQUEST_TTL_SECONDS", "5"))
# When set, /metrics requires "Authorization: Bearer <token>" (config/metrics.py).
CHIPWATCH_METRICS_TOKEN = os.environ.get("CHIPWATCH_METRICS_TOKEN", "")
# A directory shared by every gunicorn and Celery process on a machine: /metrics then adds up their counters
# (prometheus-client multiprocess mode; config/gunicorn.py clears it at start). Empty: one process's own.
PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
# Reports whose collected_at is further than this from the server clock are flagged.
CHIPWATCH_CLOCK_SKEW_SECONDS = int(os.environ.get("CHIPWATCH_CLOCK_SKEW_SECONDS", "300"))
# Failed logins / refused enrollment secrets per client address before 429, per window (config/limits.py).
CHIPWATCH_LOGIN_FAILURE_LIMIT = int(os.environ.get("CHIPWATCH_LOGIN_FAILURE_LIMIT", "10"))
CHIPWATCH_ENROLL_FAILURE_LIMIT = int(os.environ.get("CHIPWATCH_ENROLL_FAILURE_LIMIT", "20"))
# Per-agent budgets (inventory/services/agent_limits.py): beyond them a report gets 429 with Retry-After.
# 120 a minute drains a full default spool (10 000 reports) in under 90 minutes; 512 MiB a day is twice its bytes.
CHIPWATCH_AGENT_REPORTS_PER_MINUTE = int(os.environ.get("CHIPWATCH_AGENT_REPORTS_PER_MINUTE", "120"))
CHIPWATCH_AGENT_BYTES_PER_DAY = int(os.environ.get("CHIPWATCH_AGENT_BYTES_PER_DAY", str(512 * 1024 * 1024)))
# A GPU row another host of the same operator family has not reported for this long may move to the host now
# reporting it (a card moved); before that, or across tenants ever, it is a duplicate identity (inventory/services/gpu_rows.py).
CHIPWATCH_GPU_RELEASE_AFTER_HOURS = float(os.environ.get("CHIPWATCH_GPU_RELEASE_AFTER_HOURS", "24"))
# How far ahead of the last accepted one a sequence may jump, on top of the per-minute rate since it.
CHIPWATCH_AGENT_SEQUENCE_SLACK = int(os.environ.get("CHIPWATCH_AGENT_SEQUENCE_SLACK", "100"))
CHIPWATCH_FAILURE_WINDOW_SECONDS = int(os.environ.get("CHIPWATCH_FAILURE_WINDOW_SECONDS", "900"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # One line per eager task would drown the embedded server's console.
    "loggers": {"celery.app.trace": {"level": os.environ.get("CELERY_TRACE_LOG_LEVEL", "WARNING")}},
}

# --- chipwatch detectors (compliance/detectors/) --------------------------------
# Every threshold a detector applies; each detector's docstring says why it has this value.
# How far back the telemetry-integrity and duplicate-identity detectors look.
CHIPWATCH_DETECTOR_LOOKBACK_HOURS = int(os.environ.get("CHIPWATCH_DETECTOR_LOOKBACK_HOURS", str(7 * 24)))
# identity: reported memory may sit this far (relative) from a known variant's size
# (GDDR6 parts with ECC on report ~6% less, e.g. an L40S's 48 GB as 45 GiB).
CHIPWATCH_IDENTITY_MEMORY_TOLERANCE = float(os.environ.get("CHIPWATCH_IDENTITY_MEMORY_TOLERANCE", "0.08"))
# identity: NVML's max SM clock may exceed the catalogued boost clock by this much
# (an RTX 4090 reports 3120 MHz against a 2520 MHz boost).
CHIPWATCH_IDENTITY_CLOCK_TOLERANCE = float(os.environ.get("CHIPWATCH_IDENTITY_CLOCK_TOLERANCE", "0.30"))
# identity: the maximum power limit may exceed the catalogued TDP by this much
# (an RTX 4090 allows 600 W against 450 W).
CHIPWATCH_IDENTITY_POWER_TOLERANCE = float(os.environ.get("CHIPWATCH_IDENTITY_POWER_TOLERANCE", "0.50"))
# identity: active NVLinks allowed above the catalogued link count before a part counts as unlocked.
CHIPWATCH_IDENTITY_EXTRA_NVLINKS = int(os.environ.get("CHIPWATCH_IDENTITY_EXTRA_NVLINKS", "0"))
# telemetry_integrity: a sample drawing more than TDP x (1 + this) is not from the part it claims to be.
CHIPWATCH_POWER_DRAW_TOLERANCE = float(os.environ.get("CHIPWATCH_POWER_DRAW_TOLERANCE", "0.50"))
# relocation: how far back a GPU's sites are compared.
CHIPWATCH_RELOCATION_LOOKBACK_DAYS = int(os.environ.get("CHIPWATCH_RELOCATION_LOOKBACK_DAYS", "90"))
# vanished_undeclared: a declared GPU silent for longer than this has vanished.
CHIPWATCH_VANISHED_AFTER_HOURS = int(os.environ.get("CHIPWATCH_VANISHED_AFTER_HOURS", "72"))
# aggregation: the AI Diffusion LPP allowance per consignee and year in H100-equivalents (90 FR 4544).
CHIPWATCH_AGGREGATION_H100_EQUIVALENTS = float(os.environ.get("CHIPWATCH_AGGREGATION_H100_EQUIVALENTS", "1699"))
# usage_pattern: an inference cluster is training-busy when, on at least BUSY_DAYS of the last
# WINDOW_DAYS, at least GPU_SHARE of its (at least MIN_GPUS) GPUs averaged UTILIZATION_PCT or more.
CHIPWATCH_USAGE_UTILIZATION_PCT = float(os.environ.get("CHIPWATCH_USAGE_UTILIZATION_PCT", "85"))
CHIPWATCH_USAGE_GPU_SHARE = float(os.environ.get("CHIPWATCH_USAGE_GPU_SHARE", "0.8"))
CHIPWATCH_USAGE_BUSY_DAYS = int(os.environ.get("CHIPWATCH_USAGE_BUSY_DAYS", "14"))
CHIPWATCH_USAGE_WINDOW_DAYS = int(os.environ.get("CHIPWATCH_USAGE_WINDOW_DAYS", "21"))
CHIPWATCH_USAGE_MIN_GPUS = int(os.environ.get("CHIPWATCH_USAGE_MIN_GPUS", "8"))

# --- compute accounting (compliance/compute/; the model is in docs/compute-accounting.md) ---
# A sample interval longer than this is a gap, not running (the agent collects every 60 s).
CHIPWATCH_COMPUTE_MAX_GAP_SECONDS = float(os.environ.get("CHIPWATCH_COMPUTE_MAX_GAP_SECONDS", "300"))
# Lower bound: a busy GPU delivers at least this share of its dense BF16/FP16 (or FP8) peak.
CHIPWATCH_COMPUTE_MFU_FLOOR = float(os.environ.get("CHIPWATCH_COMPUTE_MFU_FLOOR", "0.15"))
# The beat rollup recomputes the hours of this look-back (late, spooled reports land in them).
CHIPWATCH_COMPUTE_ROLLUP_LOOKBACK_HOURS = int(os.environ.get("CHIPWATCH_COMPUTE_ROLLUP_LOOKBACK_HOURS", "48"))
# Hours per aggregate query (and per transaction) of a rollup.
CHIPWATCH_COMPUTE_ROLLUP_CHUNK_HOURS = int(os.environ.get("CHIPWATCH_COMPUTE_ROLLUP_CHUNK_HOURS", "24"))
# Samples whose agent clock runs further ahead than this are not counted (flagged elsewhere).
CHIPWATCH_COMPUTE_MAX_CLOCK_AHEAD_SECONDS = float(os.environ.get("CHIPWATCH_COMPUTE_MAX_CLOCK_AHEAD_SECONDS",
                                                                 str(7 * 24 * 3600)))
# Training run: at least MIN_GPUS GPUs of a cluster each busy UTILIZATION_PCT of an hour, for at
# least MIN_HOURS hours (MAX_INTERRUPTION_HOURS below the bar do not end it), within LOOKBACK_DAYS.
CHIPWATCH_TRAINING_MIN_GPUS = int(os.environ.get("CHIPWATCH_TRAINING_MIN_GPUS", "256"))
CHIPWATCH_TRAINING_UTILIZATION_PCT = float(os.environ.get("CHIPWATCH_TRAINING_UTILIZATION_PCT", "80"))
CHIPWATCH_TRAINING_MIN_HOURS = int(os.environ.get("CHIPWATCH_TRAINING_MIN_HOURS", "24"))
CHIPWATCH_TRAINING_MAX_INTERRUPTION_HOURS = int(os.environ.get("CHIPWATCH_TRAINING_MAX_INTERRUPTION_HOURS", "2"))
CHIPWATCH_TRAINING_LOOKBACK_DAYS = int(os.environ.get("CHIPWATCH_TRAINING_LOOKBACK_DAYS", "120"))

# --- GPU attestation (compliance/attestation/, docs/attestation.md) ---
CHIPWATCH_ATTESTATION_NONCE_TTL_S = int(os.environ.get("CHIPWATCH_ATTESTATION_NONCE_TTL_S", "900"))
# A directory of NVIDIA RIM .swidtag files for golden measurements (empty: measurements are not compared).
CHIPWATCH_ATTESTATION_RIM_DIR = os.environ.get("CHIPWATCH_ATTESTATION_RIM_DIR", "")
# Board identity -> catalog chip table, each entry with its source (empty: the shipped, empty table).
CHIPWATCH_ATTESTATION_BOARDS_FILE = os.environ.get("CHIPWATCH_ATTESTATION_BOARDS_FILE", "")

# --- notifications of new critical/high findings (compliance/notifications/, docs/notifications.md) ---
CHIPWATCH_NOTIFY_TIMEOUT_SECONDS = float(os.environ.get("CHIPWATCH_NOTIFY_TIMEOUT_SECONDS", "10"))
# Retries after the first attempt, waiting base, 2 x base, 4 x base … seconds (6 retries: about 31 minutes).
CHIPWATCH_NOTIFY_MAX_RETRIES = int(os.environ.get("CHIPWATCH_NOTIFY_MAX_RETRIES", "6"))
CHIPWATCH_NOTIFY_RETRY_BASE_SECONDS = float(os.environ.get("CHIPWATCH_NOTIFY_RETRY_BASE_SECONDS", "30"))
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("EMAIL_USE_TLS", "") == "1"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "chipwatch@localhost")
