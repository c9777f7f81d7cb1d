"""Settings for BReact Console, read from the environment (see .env.example)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
# A .env file beside manage.py fills in variables the environment does not set.
load_dotenv(BASE_DIR / ".env", override=False)
VAR_DIR = Path(os.environ.get("BREACT_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    """The variable, or `default` when it is unset or empty (`NAME=` in .env means "default")."""
    return os.environ.get(name) or default


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("BREACT_DEBUG", False)
DEV_SECRET_KEY = "django-insecure-dev-only-key-set-BREACT_SECRET_KEY-in-production"
SECRET_KEY = env_str("BREACT_SECRET_KEY", DEV_SECRET_KEY)
ALLOWED_HOSTS = env_list("BREACT_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("BREACT_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # allauth's session list
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    # Sign-up, log-in, email verification, MFA and the list of sessions (accounts/signin).
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "accounts",
    "services",
]

MIDDLEWARE = [
    "breact.middleware.RequestIdMiddleware",
    "breact.metrics.MetricsMiddleware",
    "breact.logging.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Records each signed-in session, so "sign out everywhere" can end the others.
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    # allauth's own cache counters during a cache outage: 503, as our throttles answer.
    "accounts.signin.middleware.CacheOutageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # An expired session in an htmx request or a form post: to the login page and back.
    "breact.htmx.ExpiredSessionMiddleware",
    # Before any view: refuses NUL, lone surrogates and overlong path and query values.
    "breact.params.InputGuardMiddleware",
    "services.middleware.UsageLogMiddleware",
]

ROOT_URLCONF = "breact.urls"
WSGI_APPLICATION = "breact.wsgi.application"
ASGI_APPLICATION = "breact.asgi.application"

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
                "services.context_processors.runner",
                "accounts.orgs.context_processors.organisation",
            ],
            "builtins": ["breact.console_tags"],
        },
    },
]

# Database: DATABASE_URL, or a SQLite file under var/ with nothing to install.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'breact.sqlite3'}")
DATABASES: dict[str, Any] = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web server and the worker share the file: WAL lets readers run beside a writer, and
    # IMMEDIATE transactions take the write lock up front instead of failing half-way.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-breact.sqlite3")}
else:
    # Persistent connections (reused for up to a minute, in the server and in the worker: see
    # breact/celery.py), and no health check: Django's check is a SELECT 1 round trip at the
    # start of every request. Without it, a connection that broke while idle (the database
    # restarted) fails the one request that finds it, and Django closes it at that request's
    # end (an error occurred and it no longer answers), so the next one reconnects.
    # BREACT_DB_CONN_HEALTH_CHECKS=1 trades that one failure for a round trip per request.
    # The worker's processes check their kept connections before each task (breact/celery.py).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_bool("BREACT_DB_CONN_HEALTH_CHECKS", False)
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("BREACT_DB_CONN_MAX_AGE", 60)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

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
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' static folders when nothing was collected (development, tests).
WHITENOISE_USE_FINDERS = env_bool("BREACT_STATIC_FINDERS", not STATIC_ROOT.exists())

# Cache (rate limits, failed-auth counters): Redis when REDIS_URL is set, else process memory.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES: dict[str, Any] = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: the broker is CELERY_BROKER_URL, else REDIS_URL, else the embedded broker: a folder
# on disk with atomic renames (breact/broker.py; no server to install).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "embedded://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {}
BROKER_DIR = VAR_DIR / "broker"
EMBEDDED_BROKER = CELERY_BROKER_URL.startswith(("embedded://", "filesystem://"))
if EMBEDDED_BROKER:
    # kombu's own filesystem transport loses and half-reads messages: "filesystem://" from an
    # older .env gets the embedded broker too.
    CELERY_BROKER_URL = "embedded://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "polling_interval": 0.05,
    }
    # One worker on one machine: no remote-control mailboxes to leave behind on disk.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu's Redis transport, with a worker that survives losing the broker mid-task
    # (breact.broker.RedisQoS).
    CELERY_BROKER_TRANSPORT = "breact.broker:RedisTransport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": 2,
        "socket_timeout": 3,
        "max_retries": 0,
        # A message unacknowledged this long (its worker died) is delivered again: longer than
        # any task may run (BREACT_TASK_TIME_LIMIT), shorter than the process deadline.
        "visibility_timeout": env_int("BREACT_TASK_TIME_LIMIT", 150) + 60,
    }
# Celery's Django fixup closes every database connection before and after each task, unless
# DB_REUSE_MAX is set (then it closes them blindly every DB_REUSE_MAX tasks); the worker keeps
# them instead and lets Django close the obsolete or broken ones around each task, as the web
# server does around each request (breact/celery.py).
CELERY_DB_REUSE_MAX = 1_000_000_000
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("BREACT_TASK_SOFT_TIME_LIMIT", 120)
CELERY_TASK_TIME_LIMIT = env_int("BREACT_TASK_TIME_LIMIT", 150)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Webhook deliveries have a queue of their own, so a burst of them (or slow receivers) never
# queues processes behind it: every worker takes from both queues in turn unless started with
# -Q (e.g. dedicated delivery workers: `celery -A breact worker -Q webhooks`).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (Queue("celery"), Queue("webhooks"))
CELERY_TASK_ROUTES = {"services.webhooks.tasks.deliver": {"queue": "webhooks"}}
# Beat writes a heartbeat as it ticks (services.workers), and ticks at least this often.
CELERY_BEAT_SCHEDULER = "services.workers:BeatScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = 5
CELERY_BEAT_SCHEDULE = {
    "purge-expired-results": {"task": "services.tasks.purge_expired_results", "schedule": 15.0},
    "fail-stuck-processes": {"task": "services.tasks.fail_stuck_processes", "schedule": 30.0},
    "roll-up-usage": {"task": "services.tasks.roll_up_usage", "schedule": 30.0},
    "webhook-sweep": {"task": "services.webhooks.tasks.sweep_deliveries", "schedule": 60.0},
    "webhook-key-expiring": {
        "task": "services.webhooks.tasks.scan_expiring_keys",
        "schedule": 3600.0,
    },
    "webhook-prune": {"task": "services.webhooks.tasks.prune_events", "schedule": 3600.0},
}

# Own settings.
# Workers and beat write a heartbeat this often; older than STALE, they count as missing.
BREACT_HEARTBEAT_SECONDS = env_int("BREACT_HEARTBEAT_SECONDS", 5)
BREACT_HEARTBEAT_STALE_SECONDS = env_int("BREACT_HEARTBEAT_STALE_SECONDS", 20)
# Refuse executes (503, nothing charged) while no worker has a fresh heartbeat.
BREACT_REQUIRE_WORKER = env_bool("BREACT_REQUIRE_WORKER", True)
# HMAC key for API key hashes; changing it invalidates every issued key.
BREACT_API_KEY_HASH_SECRET = env_str("BREACT_API_KEY_HASH_SECRET", SECRET_KEY)
# Fernet keys for secrets stored encrypted (model-provider API keys), comma-separated: the first
# encrypts, all decrypt (rotation: new key first, then `manage.py rotate_field_keys`). Unset: a
# key derived from SECRET_KEY. See breact/encryption.py.
BREACT_FIELD_KEY = env_list("BREACT_FIELD_KEY")
BREACT_DEFAULT_RATE_LIMIT = env_str("BREACT_DEFAULT_RATE_LIMIT", "60/m")
BREACT_POLL_RATE_LIMIT = env_str("BREACT_POLL_RATE_LIMIT", "600/m")
BREACT_AUTH_FAILURE_RATE_LIMIT = env_str("BREACT_AUTH_FAILURE_RATE_LIMIT", "30/m")
# With Redis, each server process keeps the API keys and catalogue rows the execute and the poll
# read, checked on every call against a generation any change renews (breact/hot_cache.py), and
# at most this many seconds old; 0 reads the database on every call.
BREACT_HOT_CACHE_SECONDS = env_int("BREACT_HOT_CACHE_SECONDS", 30)
# With Redis, the API's request-log rows are appended to a Redis stream on the request path and
# folded into the database by beat every second, exactly once (services/usage/actions.py); a
# signed-in user's console pages fold first, so they never lag. 0 writes each row directly.
BREACT_USAGE_LOG_BUFFER = env_bool("BREACT_USAGE_LOG_BUFFER", True)
if REDIS_URL and BREACT_USAGE_LOG_BUFFER:
    CELERY_BEAT_SCHEDULE["fold-usage-log"] = {
        "task": "services.tasks.fold_usage_log",
        "schedule": 1.0,
    }
# Usable API keys an account may hold at once (console keys not counted).
BREACT_MAX_KEYS_PER_ACCOUNT = env_int("BREACT_MAX_KEYS_PER_ACCOUNT", 20)
BREACT_RESULT_TTL = env_int("BREACT_RESULT_TTL", 60)
# A process still queued or running this many seconds after creation is failed and refunded.
BREACT_PROCESS_DEADLINE = env_int("BREACT_PROCESS_DEADLINE", 600)
BREACT_MAX_BODY_BYTES = env_int("BREACT_MAX_BODY_BYTES", 1_048_576)
BREACT_MAX_JSON_DEPTH = env_int("BREACT_MAX_JSON_DEPTH", 32)
BREACT_IDEMPOTENCY_TTL = env_int("BREACT_IDEMPOTENCY_TTL", 86_400)
# Extra modules that define services in the catalogue's shape (comma separated import paths).
BREACT_EXTRA_SERVICE_MODULES = env_list("BREACT_EXTRA_SERVICE_MODULES")

# Model providers: a JSON object mapping model ids ("*" = any other) to OpenAI-compatible
# endpoints, e.g. {"gpt-4o": {"base_url": "https://api.openai.com/v1", "api_key": "sk-…",
# "model": "gpt-4o", "timeout": 60}}. Staff can add more in the admin.
BREACT_MODEL_PROVIDERS = env_str("BREACT_MODEL_PROVIDERS", "")
# A requested model with no provider: "local" runs the local engine, "reject" answers 400.
BREACT_UNMAPPED_MODELS = env_str("BREACT_UNMAPPED_MODELS", "local")
BREACT_LLM_TIMEOUT = env_int("BREACT_LLM_TIMEOUT", 60)
# The webscraper refuses private, loopback and link-local addresses; this allows loopback only.
BREACT_WEBSCRAPER_ALLOW_LOOPBACK = env_bool("BREACT_WEBSCRAPER_ALLOW_LOOPBACK", False)
if BREACT_UNMAPPED_MODELS not in {"local", "reject"}:
    raise ImproperlyConfigured("BREACT_UNMAPPED_MODELS must be 'local' or 'reject'.")

DATA_UPLOAD_MAX_MEMORY_SIZE = BREACT_MAX_BODY_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["services.api.renderers.Utf8JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "services.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "BReact Console API",
    "DESCRIPTION": "REST API v1: list services, execute an endpoint, poll its result.",
    "VERSION": "1.0.0",
    # 3.1: its schemas are JSON Schema 2020-12, the dialect of the services' input schemas.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI keeps the key entered under "Authorize" across reloads.
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "ENUM_NAME_OVERRIDES": {
        "DocumentContentTypeEnum": "services.engines.local_knowledge.CONTENT_TYPES",
        "DocumentContentTypeInputEnum": "services.api.kb_views.CONTENT_TYPE_INPUTS",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "services.api.schema.document_errors_and_links",
        "services.webhooks.api.document_webhook_url",
    ],
}

RATELIMIT_USE_CACHE = "default"
RATELIMIT_VIEW = None
# Behind reverse proxies, the header that carries the client's address (X-Forwarded-For,
# X-Real-IP; either spelling, e.g. HTTP_X_REAL_IP), so per-IP limits and audit rows see clients
# rather than the proxy. Unset: REMOTE_ADDR. breact.http.client_ip is the one place that reads
# it: a comma list is read from the right, BREACT_TRUSTED_PROXY_COUNT entries in (the proxies
# that append to it); a missing or invalid value falls back to REMOTE_ADDR.
BREACT_CLIENT_IP_HEADER = env_str("BREACT_CLIENT_IP_HEADER")
BREACT_TRUSTED_PROXY_COUNT = env_int("BREACT_TRUSTED_PROXY_COUNT", 1)
if BREACT_TRUSTED_PROXY_COUNT < 1:
    raise ImproperlyConfigured("BREACT_TRUSTED_PROXY_COUNT must be 1 or more.")

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"
DEFAULT_FROM_EMAIL = env_str("BREACT_FROM_EMAIL", "BReact Console <no-reply@localhost>")
# Base URL of the console as users reach it (links in emails, Stripe return URLs).
BREACT_PUBLIC_URL = env_str("BREACT_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
BREACT_SIGNUP_CREDITS = env_int("BREACT_SIGNUP_CREDITS", 100)
# Wrong passwords per account (from anywhere), and per client IP (over all accounts, against
# credential stuffing; higher, so one user's typos do not lock out a whole office).
BREACT_LOGIN_RATE_LIMIT = env_str("BREACT_LOGIN_RATE_LIMIT", "5/5m")
BREACT_LOGIN_IP_RATE_LIMIT = env_str("BREACT_LOGIN_IP_RATE_LIMIT", "30/5m")
# Sign-ups per client IP: each new account gets BREACT_SIGNUP_CREDITS.
BREACT_SIGNUP_RATE_LIMIT = env_str("BREACT_SIGNUP_RATE_LIMIT", "5/h")

# Sign-in through django-allauth (accounts/signin): email and password, a verification mail
# (through EMAIL_BACKEND) that must be followed before the first API key or payment, TOTP and
# passkeys as second factors, and the list of sessions. The throttles above stay ours
# (accounts/signin/adapter.py): allauth's own log-in, sign-up and reset limits are off, as its
# per-IP lock-out would refuse everyone in an office after one person's typos.
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_ADAPTER = "accounts.signin.adapter.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
# "optional": an unverified user may sign in and look around; the console refuses API keys and
# payments until the address is verified (accounts/signin/selectors.py).
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False  # a mail scanner following the link verifies nothing
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False  # a reset for an unknown address sends nothing
ACCOUNT_EMAIL_SUBJECT_PREFIX = "BReact Console: "
# A mail to the user on each security change (second factor added or removed, password changed).
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if BREACT_PUBLIC_URL.startswith("https:") else "http"
ACCOUNT_RATE_LIMITS = {
    "login": False,
    "login_failed": False,
    "signup": False,
    "reset_password": False,
    # The mailed link's token is the guard (as with Django's own view, which had no limit).
    "reset_password_from_key": False,
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = "BReact Console"
# Passkeys need a secure origin whose host is a domain: https, or http://localhost (browsers and
# fido2 accept it; http://127.0.0.1 is refused). The origin is always verified.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = False
# Credit packs offered on the credits page: JSON list of {id, name, credits, price_cents, currency}.
BREACT_CREDIT_PACKS = env_str(
    "BREACT_CREDIT_PACKS",
    '[{"id": "starter", "name": "Starter", "credits": 1000, "price_cents": 1000,'
    ' "currency": "eur"},'
    ' {"id": "growth", "name": "Growth", "credits": 5500, "price_cents": 5000, "currency": "eur"},'
    ' {"id": "scale", "name": "Scale", "credits": 12000, "price_cents": 10000, "currency": "eur"}]',
)
# Stripe Checkout: used when both keys are set.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
# Only for tests against a loopback Stripe stub.
STRIPE_API_BASE = env_str("STRIPE_API_BASE")
# Test-mode top-ups (a pack is credited for free, labelled as such) when Stripe is not
# configured: "off" (the default: no top-ups at all), "on" (only while BREACT_DEBUG is on) or
# "force" (also without debug: staging and test stacks only).
_TEST_MODE = env_str("BREACT_PAYMENTS_TEST_MODE", "off").strip().lower()
_TEST_MODE_VALUES = {
    "": "off",
    "0": "off",
    "off": "off",
    "false": "off",
    "no": "off",
    "1": "on",
    "on": "on",
    "true": "on",
    "yes": "on",
    "force": "force",
}
if _TEST_MODE not in _TEST_MODE_VALUES:
    raise ImproperlyConfigured("BREACT_PAYMENTS_TEST_MODE must be off, on or force.")
BREACT_PAYMENTS_TEST_MODE = _TEST_MODE_VALUES[_TEST_MODE]

SESSION_COOKIE_SECURE = env_bool("BREACT_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("BREACT_SSL_REDIRECT", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("BREACT_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = env_list("BREACT_SILENCED_SYSTEM_CHECKS")

EMAIL_BACKEND = env_str("BREACT_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# Where the file backend (django.core.mail.backends.filebased.EmailBackend) writes each message.
EMAIL_FILE_PATH = env_str("BREACT_EMAIL_FILE_PATH", str(VAR_DIR / "mail"))

# Log lines: readable by default, one JSON object per line with BREACT_LOG_FORMAT=json.
BREACT_LOG_FORMAT = env_str("BREACT_LOG_FORMAT", "text").strip().lower()
if BREACT_LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured("BREACT_LOG_FORMAT must be text or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(message)s"},  # as before: the message alone
        "json": {"()": "breact.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": BREACT_LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("BREACT_LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

# Webhooks (services/webhooks): seconds per attempt; retries back off from RETRY_BASE seconds,
# doubling (at most 6 h apart), for RETRY_WINDOW seconds; an endpoint failing for DISABLE_AFTER
# seconds is disabled and its owner emailed. Deliveries refuse private, loopback and link-local
# targets like the webscraper; ALLOW_LOOPBACK lets local development receive them.
BREACT_WEBHOOK_TIMEOUT = env_int("BREACT_WEBHOOK_TIMEOUT", 10)
BREACT_WEBHOOK_RETRY_BASE = float(env_str("BREACT_WEBHOOK_RETRY_BASE", "30"))
BREACT_WEBHOOK_RETRY_WINDOW = env_int("BREACT_WEBHOOK_RETRY_WINDOW", 86_400)
BREACT_WEBHOOK_DISABLE_AFTER = env_int("BREACT_WEBHOOK_DISABLE_AFTER", 86_400)
BREACT_WEBHOOK_ALLOW_LOOPBACK = env_bool("BREACT_WEBHOOK_ALLOW_LOOPBACK", False)
BREACT_WEBHOOK_KEEP_DAYS = env_int("BREACT_WEBHOOK_KEEP_DAYS", 7)
# Derives the secret that signs deliveries to per-call webhook_url targets.
BREACT_WEBHOOK_SECRET_KEY = env_str("BREACT_WEBHOOK_SECRET_KEY", SECRET_KEY)

# /metrics (Prometheus): a scrape sends `Authorization: Bearer <BREACT_METRICS_TOKEN>` or comes
# from an address in BREACT_METRICS_ALLOW (addresses or networks).
BREACT_METRICS_TOKEN = env_str("BREACT_METRICS_TOKEN")
BREACT_METRICS_ALLOW = env_list("BREACT_METRICS_ALLOW", "127.0.0.1,::1")
# Readiness (/api/v1/health/ready) needs a worker heartbeat at most this old.
BREACT_READY_WORKER_SECONDS = env_int("BREACT_READY_WORKER_SECONDS", BREACT_HEARTBEAT_STALE_SECONDS)
