"""Settings, all read from the environment with embedded defaults a newcomer can run on.

Unset DATABASE_URL means a SQLite file; unset CELERY_BROKER_URL (and REDIS_URL) means tasks run
eagerly in-process. DJANGO_ENV=production switches on the settings `check --deploy` asks for and
refuses to start without a real SECRET_KEY.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from lineage_project.env import EnvError, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

PRODUCTION = env_str("DJANGO_ENV", "development") == "production"
DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)

_DEV_SECRET = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"  # noqa: S105
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "" if PRODUCTION else _DEV_SECRET)
if PRODUCTION and len(SECRET_KEY) < 50:
    raise EnvError("DJANGO_SECRET_KEY must be set to a random string of 50+ characters in production")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

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
    "orgs",
    "clouds",
    "catalog",
    "ingest",
    "bench",
]

MIDDLEWARE = [
    "lineage_project.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "lineage_project.middleware.DatabaseUnavailableMiddleware",
]

if PRODUCTION:  # runserver serves static files in development
    MIDDLEWARE.insert(2, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "lineage_project.urls"
WSGI_APPLICATION = "lineage_project.wsgi.application"

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
            ],
        },
    },
]

# Persistent connections: a view doing one INSERT per request serves about five times fewer
# requests when Django reconnects on every request (measured, see DESIGN.md). Health checks
# make a connection that died while idle (database restart) reconnect instead of failing once.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dev server read while a write is in progress; the timeout makes a second
    # writer wait for the lock instead of failing at once with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
else:
    # Fail fast when PostgreSQL is unreachable so ingest can answer 503 quickly. connect_timeout
    # covers new connections; keepalives and tcp_user_timeout cover a persistent connection whose
    # peer vanished without a reset (failover, partition), where the health check's SELECT 1
    # would otherwise wait for the kernel's retransmission timeout (minutes).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        connect_timeout=env_int("DATABASE_CONNECT_TIMEOUT", 3, minimum=1),
        keepalives=1,
        keepalives_idle=30,
        keepalives_interval=5,
        keepalives_count=3,
        tcp_user_timeout=env_int("DATABASE_TCP_USER_TIMEOUT_MS", 10_000, minimum=1000),
        # Django turns psycopg's prepared statements off (None), and its own cursors bind values
        # in the client, which never prepares. The hot single-event INSERT runs on a server-bound
        # cursor (ingest.services), which psycopg prepares from its fifth run on a connection:
        # PostgreSQL then neither parses the event's ~2.5 KB again nor plans the statement's join,
        # about half the statement's CPU (measured, README Performance). Off behind a pooler in
        # transaction mode that does not keep prepared statements (PgBouncer before 1.21).
        prepare_threshold=5 if env_bool("DATABASE_PREPARED_STATEMENTS", True) else None,
    )
    # The test database name is fixed so a Celery worker subprocess started by the tests can
    # be pointed at it.
    DATABASES["default"]["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME", "test_lineage")}

# A web request's SQL statement is cancelled after this long (PostgreSQL statement_timeout; 0 for
# none), before clients and proxies commonly give up (30-60 s), so a runaway statement stops
# using the database and the request answers 503 saying so. Only the web server applies it
# (lineage_project.statements); workers and commands do not, and exports lift it.
LINEAGE_WEB_STATEMENT_TIMEOUT_MS = env_int("LINEAGE_WEB_STATEMENT_TIMEOUT_MS", 20_000, minimum=0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "lineage_project" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Benchmark-only routes (bench.reference); never on in a deployment.
LINEAGE_BENCH_VIEWS = env_bool("LINEAGE_BENCH_VIEWS", False)

# --- Security (production) ------------------------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- REST framework ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The token scheme first: DRF answers a request without valid credentials with the first
        # scheme's WWW-Authenticate challenge, so 401 `Token` rather than a 403 that reads like a
        # missing permission. A request with neither header nor session still reaches the session.
        "orgs.auth.PersonalTokenAuthentication",  # hashed tokens (orgs.models.ApiToken)
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Lineage governance API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", env_str("REDIS_URL", ""))
# No broker configured: run tasks in-process, so a newcomer needs no services at all.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# The ingest request must never hang on a dead broker: the raw event is already committed and
# the sweeper re-enqueues it, so one quick attempt to publish is all the request makes.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 5,
    "max_retries": 0,
    # Tasks acked late are redelivered if a worker dies; an hour covers the longest batch.
    "visibility_timeout": 3600,
}
CELERY_BEAT_SCHEDULE = {
    "sweep-pending-raw-events": {
        "task": "ingest.tasks.sweep_pending",
        "schedule": env_int("LINEAGE_SWEEP_INTERVAL_SECONDS", 30, minimum=1),
    },
    "apply-retention": {"task": "ingest.tasks.apply_retention", "schedule": 24 * 3600},
    "seal-lineage-chains": {
        "task": "ingest.tasks.seal_chains",
        "schedule": env_int("LINEAGE_SEAL_INTERVAL_SECONDS", 10, minimum=1),
    },
}

# --- Lineage ingest -------------------------------------------------------------------------------
# Limits are on the decompressed body; a gzip body is never inflated past them.
LINEAGE_MAX_EVENT_BYTES = env_int("LINEAGE_MAX_EVENT_BYTES", 1024 * 1024, minimum=1024)
LINEAGE_MAX_BATCH_BYTES = env_int("LINEAGE_MAX_BATCH_BYTES", 16 * 1024 * 1024, minimum=1024)
LINEAGE_MAX_BATCH_EVENTS = env_int("LINEAGE_MAX_BATCH_EVENTS", 1000, minimum=1)
LINEAGE_MAX_JSON_DEPTH = env_int("LINEAGE_MAX_JSON_DEPTH", 64, minimum=8)
# Raw events still pending this long are re-enqueued by the sweeper (broker was down, worker died).
LINEAGE_SWEEP_AFTER_SECONDS = env_int("LINEAGE_SWEEP_AFTER_SECONDS", 60, minimum=1)
# A raw event whose normalization failed this many times is parked for an operator.
LINEAGE_MAX_ATTEMPTS = env_int("LINEAGE_MAX_ATTEMPTS", 3, minimum=1)
LINEAGE_NORMALIZE_BATCH = env_int("LINEAGE_NORMALIZE_BATCH", 500, minimum=1)
# After draining, the normalizer ANALYZEs each catalog table in which this many rows changed since
# its last analysis, at most this often per table (catalog.analyze): a new tenant's rows are
# known to the planner long before autovacuum's 10% of a large table would have them analyzed.
LINEAGE_ANALYZE_AFTER_ROWS = env_int("LINEAGE_ANALYZE_AFTER_ROWS", 2000, minimum=1)
LINEAGE_ANALYZE_EVERY_SECONDS = env_int("LINEAGE_ANALYZE_EVERY_SECONDS", 60, minimum=0)

# Django itself must not refuse large lineage bodies before the ingest view can answer 413 with a
# clear message; the ingest view reads the stream with its own limits.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
