"""Parley settings: plain environment variables with embedded defaults.

There is one settings module and no per-environment forks. Two switches decide everything:

* REDIS_URL unset  -> embedded runtime: in-memory Celery broker worked by a thread inside
  `manage.py serve`, and Channels' in-memory layer. REDIS_URL set -> production runtime: Redis
  broker (separate `celery -A workers worker` processes) and the channels_redis layer.
* DATABASE_URL or REDIS_URL set -> a deployment: SECRET_KEY, ALLOWED_HOSTS and
  FIELD_ENCRYPTION_KEYS must be given, and HTTPS hardening is on. Otherwise Parley runs on one
  machine for one person: SQLite in PARLEY_DATA_DIR and generated secrets kept there.

Variables (all optional unless stated):
  PARLEY_DATA_DIR            where embedded mode keeps SQLite and generated secrets (default <repo>/var)
  DATABASE_URL               postgres://user:pass@host:5432/name or sqlite:////abs/path.sqlite3
  REDIS_URL                  redis://host:6379/0
  SECRET_KEY                 required in a deployment
  DEBUG                      1/0 (default 0)
  ALLOWED_HOSTS              comma list; required in a deployment (embedded default 127.0.0.1,localhost)
  CSRF_TRUSTED_ORIGINS       comma list of origins, e.g. https://parley.example.com
  FIELD_ENCRYPTION_KEYS      comma list of Fernet keys, newest first; required in a deployment
  PARLEY_HTTPS               1/0. Default 1 in a deployment: SSL redirect, HSTS, secure cookies, and
                             X-Forwarded-Proto trusted from the TLS-terminating proxy in front.
                             Set PARLEY_HTTPS=0 for a plain-HTTP deployment (trusted network only).
  PARLEY_SANDBOX_IMAGE       the code sandbox image (default parley-sandbox)
  PARLEY_WORKER_CONCURRENCY  threads per Celery worker (default 8)
  PARLEY_DB_POOL_SIZE        PostgreSQL connections each process may hold (default 20); 0 turns the
                             pool off (e.g. behind a transaction-pooling PgBouncer)
  PARLEY_RUN_*, PARLEY_RUNS_QUEUE  run heartbeat, recovery and relay timing: see studio/runs/conf.py

A missing or malformed variable raises SettingsError; manage.py and asgi.py print its one line.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from studio.env import (
    Env,
    SettingsError,
    new_fernet_key,
    new_secret_key,
    parse_database_url,
    read_or_create_secret,
    validate_fernet_keys,
    validate_redis_url,
)

env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent
PARLEY_DATA_DIR = Path(env.str("PARLEY_DATA_DIR", str(BASE_DIR / "var"))).expanduser().resolve()

REDIS_URL = validate_redis_url("REDIS_URL", env.str("REDIS_URL")) if env.is_set("REDIS_URL") else ""
PARLEY_EMBEDDED = not REDIS_URL
PARLEY_DEPLOYMENT = env.is_set("DATABASE_URL") or bool(REDIS_URL)
PARLEY_MODE = "embedded" if PARLEY_EMBEDDED else "production"


def _required(name: str) -> str:
    value = env.str(name)
    if not value:
        raise SettingsError(f"{name} is required when DATABASE_URL or REDIS_URL is set")
    return value


# --- database ------------------------------------------------------------------------------------
if env.is_set("DATABASE_URL"):
    # Never fall back to SQLite here: a wrong URL must fail loudly, not start an empty studio.
    DATABASES = {"default": parse_database_url("DATABASE_URL", env.str("DATABASE_URL"))}
else:
    PARLEY_DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": PARLEY_DATA_DIR / "parley.sqlite3",
        }
    }

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web thread read while the worker thread writes; IMMEDIATE takes the write
    # lock up front so two writers queue (busy timeout) instead of failing mid-transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

PARLEY_DB_POOL_SIZE = env.int("PARLEY_DB_POOL_SIZE", 20, minimum=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and PARLEY_DB_POOL_SIZE:
    # A connection pool per process. Without it every database_sync_to_async call of a websocket
    # consumer and every worker step logs in to PostgreSQL anew (~10 ms each, on the consumers'
    # single database thread). A closed connection goes back to the pool. CONN_HEALTH_CHECKS
    # (set by parse_database_url) makes the pool test a connection before lending it, so a
    # database restart costs no failed request.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": PARLEY_DB_POOL_SIZE,
        "timeout": 30,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- secrets -------------------------------------------------------------------------------------
if PARLEY_DEPLOYMENT:
    SECRET_KEY = _required("SECRET_KEY")
    FIELD_ENCRYPTION_KEYS = validate_fernet_keys(
        "FIELD_ENCRYPTION_KEYS", env.list("FIELD_ENCRYPTION_KEYS") or [_required("FIELD_ENCRYPTION_KEYS")]
    )
else:
    SECRET_KEY = env.str("SECRET_KEY") or read_or_create_secret(
        PARLEY_DATA_DIR / "secret_key", new_secret_key, "SECRET_KEY"
    )
    FIELD_ENCRYPTION_KEYS = validate_fernet_keys(
        "FIELD_ENCRYPTION_KEYS",
        env.list("FIELD_ENCRYPTION_KEYS")
        or [read_or_create_secret(PARLEY_DATA_DIR / "field_keys", new_fernet_key, "FIELD_ENCRYPTION_KEYS")],
    )

DEBUG = env.bool("DEBUG", False)
if PARLEY_DEPLOYMENT:
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS") or [_required("ALLOWED_HOSTS")]
else:
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS")
for _origin in CSRF_TRUSTED_ORIGINS:
    if "://" not in _origin:
        raise SettingsError(f"CSRF_TRUSTED_ORIGINS entries need a scheme, e.g. https://{_origin} (got {_origin!r})")

# --- HTTPS hardening -----------------------------------------------------------------------------
PARLEY_HTTPS = env.bool("PARLEY_HTTPS", PARLEY_DEPLOYMENT)
if PARLEY_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

# --- applications --------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "channels",
    "studio.accounts",
    "studio.crews",
    "studio.runs",
    "studio.system",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "studio.urls"
ASGI_APPLICATION = "studio.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,  # template_partials swaps this for its own (cached) loader chain
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "studio.accounts.context_processors.workspace",
            ],
        },
    },
]

# --- accounts ------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- i18n ----------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static files (WhiteNoise) -------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
if (STATIC_ROOT / "staticfiles.json").exists():
    # collectstatic ran (the production image): hashed, compressed, cached forever.
    _static_backend = "whitenoise.storage.CompressedManifestStaticFilesStorage"
else:
    # No collectstatic (embedded mode, tests): serve straight from the source folders.
    _static_backend = "django.contrib.staticfiles.storage.StaticFilesStorage"
    WHITENOISE_USE_FINDERS = True
    # WhiteNoise warns on every start when STATIC_ROOT is missing; an empty one is harmless.
    try:
        STATIC_ROOT.mkdir(exist_ok=True)
    except OSError:
        pass
# WhiteNoise serves files with a sync iterator; under ASGI Django notes that once per process.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": _static_backend},
}

# --- channels ------------------------------------------------------------------------------------
if PARLEY_EMBEDDED:
    # Works only on the server's own event loop; workers/relay.py hops onto it.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub: a group send is one PUBLISH and each server process is pushed what its
            # sockets joined, instead of per-channel queues polled one message per round trip.
            # Delivery is at most once, which the relay's design already assumes: events are
            # doorbells and viewers read the transcript from the database (workers/relay.py).
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # A read timeout well above any wait of the layer's, so a quiet socket never trips it.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }

# --- celery (read by workers/celery.py, namespace CELERY) ----------------------------------------
PARLEY_WORKER_CONCURRENCY = env.int("PARLEY_WORKER_CONCURRENCY", 8)
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_POOL = "threads"  # conversations wait on LLM HTTP calls: threads, not processes
CELERY_WORKER_CONCURRENCY = PARLEY_WORKER_CONCURRENCY
CELERY_TASK_IGNORE_RESULT = True  # results travel through the database and the relay
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
if PARLEY_EMBEDDED:
    # The in-memory transport polls; 1 s (the default) would show as queue latency.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.1}
else:
    # Redis hands an unacknowledged task to another worker after this long. Redis's default of an
    # hour would leave a crashed worker's run waiting that long for redelivery. A redelivery while
    # the first worker is still busy is harmless: the run's lease makes the second task a no-op.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}

# --- Parley --------------------------------------------------------------------------------------
PARLEY_SANDBOX_IMAGE = env.str("PARLEY_SANDBOX_IMAGE", "parley-sandbox")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
