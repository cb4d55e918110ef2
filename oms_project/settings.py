"""Settings, from the environment (django-environ). See docs/operations.md for every variable.

With DATABASE_URL / REDIS_URL unset, the OMS uses the embedded PostgreSQL and Valkey that
`make run` / `make test` start under var/<profile>/ (oms_project.embedded).
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

import environ
from django.core.exceptions import ImproperlyConfigured

from oms_project.embedded import Layout

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")  # optional; real environment variables win

DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
OMS_ENV = env.str("OMS_ENV", default="development")  # development | test | production
PRODUCTION = OMS_ENV == "production"
# Off unless asked for, even in development: debug pages list URL patterns and settings.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEV_SECRET_KEY)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("OMS_ENV=production refuses to start with DJANGO_DEBUG on")
if PRODUCTION and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured("OMS_ENV=production needs DJANGO_SECRET_KEY set to a real secret")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

SERVICES = Layout(env.str("OMS_SERVICES_PROFILE", default="run"))
DATABASE_URL = env.str("DATABASE_URL", default="") or SERVICES.database_url
REDIS_URL = env.str("REDIS_URL", default="") or SERVICES.redis_url

# daphne's app only gives `manage.py runserver` its ASGI server (the OMS serves with uvicorn,
# oms_project/web.py), and loading it loads Twisted's reactor: ~0.5 s of every process's start,
# the engine's restart after a crash among them. So it is installed for runserver alone.
_RUNSERVER = ["daphne"] if sys.argv[1:2] == ["runserver"] else []

INSTALLED_APPS = [
    *_RUNSERVER,
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pgtrigger",
    "channels",
    "orders",
    "risk",
    "venues",
    "gateway",
    "blotter",
    "reconciliation",
    "tradingday",
]

# Django's and WhiteNoise's middleware, each as a subclass whose hooks run on the event loop
# (oms_project/asyncweb.py): Django would run each hook in a thread of its own under ASGI.
MIDDLEWARE = [
    "oms_project.api.RejectNulMiddleware",
    "oms_project.asyncweb.SecurityMiddleware",
    "oms_project.asyncweb.StaticFilesMiddleware",  # WhiteNoise
    "oms_project.asyncweb.SessionMiddleware",
    "oms_project.asyncweb.CommonMiddleware",
    "oms_project.asyncweb.CsrfViewMiddleware",
    "oms_project.asyncweb.AuthenticationMiddleware",
    "oms_project.asyncweb.MessageMiddleware",
    "oms_project.asyncweb.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "oms_project.urls"
ASGI_APPLICATION = "oms_project.asgi.application"
WSGI_APPLICATION = None

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

DATABASES = {"default": env.db_url_config(DATABASE_URL)}
# A Unix-socket host arrives percent-encoded (postgres://user@%2Fpath%2Fto%2Fsock/db).
DATABASES["default"]["HOST"] = unquote(DATABASES["default"]["HOST"])
# A connection pool (psycopg_pool). Under ASGI every request runs in a fresh thread, so
# Django's per-thread persistent connections would connect anew for each request (~25 ms
# here). The engine opts out: it keeps one dedicated connection, its writer lock's home.
DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
    "min_size": 2,
    "max_size": env.int("DATABASE_POOL_MAX", default=20),
    "timeout": 10,
}
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # the pool checks a connection before lending it
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = (
    [
        {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
        {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    ]
    if PRODUCTION
    else []  # the demo users' passwords equal their names
)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]  # static/vendor/: the blotter's npm assets, copied by `make setup`
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = not PRODUCTION  # outside production, no collectstatic needed

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oms_project.rest.CachedTokenAuthentication",  # DRF's, each worker remembering a key for 1 s
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "oms_project.rest.BoundedLimitOffsetPagination",
    "DEFAULT_PARSER_CLASSES": [
        "oms_project.rest.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "EXCEPTION_HANDLER": "oms_project.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "OMS API",
    "DESCRIPTION": "Order entry, order state, fills, positions and the audit log of the OMS.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "SideEnum": "orders.domain.values.Side",
        "OrderTypeEnum": "orders.domain.values.OrderType",
        "TimeInForceEnum": "orders.domain.values.TimeInForce",
        "OrdStatusEnum": "orders.domain.values.OrdStatus",
    },
}

# The blotter's websockets. A consumer's channel holds up to `capacity` frames (more are dropped:
# the consumer sees the gap by the frames' chain and reads it from the log, blotter/feed.py).
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [REDIS_URL],
            "prefix": f"{env.str('OMS_BUS_PREFIX', default='oms')}:asgi",
            "capacity": 1000,
        },
    }
}
# Django's cache, shared by every web worker (a per-process cache would give each worker its own
# throttle counts, were throttles configured). Nothing reads it on the order path.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{env.str('OMS_BUS_PREFIX', default='oms')}:cache",
    }
}
# Celery (oms_project/celery.py): broker and results on the same Valkey/Redis, under the bus prefix.
# kombu and Celery spell a Unix socket (the embedded Valkey's) their own way.
CELERY_BROKER_URL = REDIS_URL.replace("unix://", "redis+socket://", 1)
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{env.str('OMS_BUS_PREFIX', default='oms')}:celery:"}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = CELERY_BROKER_TRANSPORT_OPTIONS
CELERY_TASK_IGNORE_RESULT = True  # tasks record what they did in the log or their tables
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # our logging settings, one line per event
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(SERVICES.root / "celerybeat-schedule")
CELERY_HEARTBEAT_SECONDS = env.float("OMS_CELERY_HEARTBEAT_SECONDS", default=10.0)
# Snapshots of the engine's state (orders/snapshots.py): one is taken when this many events, or
# this many seconds (if any event came meanwhile), have passed since the newest; beat checks every
# OMS_SNAPSHOT_CHECK_SECONDS. An engine start replays at most about EVERY_EVENTS events after one.
OMS_SNAPSHOT_EVERY_EVENTS = env.int("OMS_SNAPSHOT_EVERY_EVENTS", default=100_000)
OMS_SNAPSHOT_SECONDS = env.float("OMS_SNAPSHOT_SECONDS", default=300.0)
OMS_SNAPSHOT_CHECK_SECONDS = env.float("OMS_SNAPSHOT_CHECK_SECONDS", default=5.0)
# Taking one is background work: its thread runs this much nicer, so the order path keeps the CPU.
OMS_SNAPSHOT_NICENESS = env.int("OMS_SNAPSHOT_NICENESS", default=10)
# Retention: after each snapshot the worker deletes the older ones but the newest KEEP and the last
# one of each of the KEEP_DAYS days before today (a snapshot is derived data: the log keeps all).
OMS_SNAPSHOT_KEEP = env.int("OMS_SNAPSHOT_KEEP", default=3)
OMS_SNAPSHOT_KEEP_DAYS = env.int("OMS_SNAPSHOT_KEEP_DAYS", default=7)
if OMS_SNAPSHOT_KEEP < 1 or OMS_SNAPSHOT_KEEP_DAYS < 0:
    raise ImproperlyConfigured("OMS_SNAPSHOT_KEEP must be at least 1 and OMS_SNAPSHOT_KEEP_DAYS at least 0")
# Reconciliation with the venues (docs/operations.md): how often the beat task runs, how far a
# quantity may differ before it is a break, how long a run waits for the connector's answers.
OMS_RECONCILE_SECONDS = env.float("OMS_RECONCILE_SECONDS", default=30.0)
OMS_RECONCILE_THRESHOLD = env.str("OMS_RECONCILE_THRESHOLD", default="0")
try:
    if not Decimal(OMS_RECONCILE_THRESHOLD) >= 0:
        raise ValueError
except (ArithmeticError, ValueError):
    raise ImproperlyConfigured(
        f"OMS_RECONCILE_THRESHOLD must be a quantity >= 0, got {OMS_RECONCILE_THRESHOLD!r}"
    ) from None
OMS_RECONCILE_ANSWER_SECONDS = env.float("OMS_RECONCILE_ANSWER_SECONDS", default=15.0)
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "oms.heartbeat", "schedule": CELERY_HEARTBEAT_SECONDS},
    "reconcile": {"task": "oms.reconcile", "schedule": OMS_RECONCILE_SECONDS},
    # The trading day (tradingday/): after each venue's close, expire the DAY orders it left; after
    # the day's last close, the end-of-day report. Both check every minute and do nothing twice.
    "day-orders-expire": {"task": "tradingday.expire_day_orders", "schedule": 60.0},
    "end-of-day-report": {"task": "tradingday.end_of_day_report", "schedule": 60.0},
    # a check that queued behind a long snapshot is dropped, not run late: the next one comes soon
    "snapshot": {
        "task": "orders.snapshot_if_due",
        "schedule": OMS_SNAPSHOT_CHECK_SECONDS,
        "options": {"expires": OMS_SNAPSHOT_CHECK_SECONDS},
    },
}
# Whether this deployment runs Celery worker and beat, so health reports them (`celery`).
OMS_CELERY = env.bool("OMS_CELERY", default=OMS_ENV != "test")

# A blotter reconnecting with ?after=N further behind than this gets a snapshot instead of the log.
OMS_BLOTTER_MAX_REPLAY = env.int("OMS_BLOTTER_MAX_REPLAY", default=50_000)

# The engine and the command bus.
OMS_ENGINE_REPLY_TIMEOUT = env.float("OMS_ENGINE_REPLY_TIMEOUT", default=5.0)  # seconds a sender waits
OMS_ENGINE_BATCH_MAX = env.int("OMS_ENGINE_BATCH_MAX", default=2000)  # commands per commit at most
OMS_BUS_PREFIX = env.str("OMS_BUS_PREFIX", default="oms")  # key prefix on Redis: one per deployment
OMS_WEB_PORT = env.int("OMS_WEB_PORT", default=8000)
OMS_FIX_PORT = env.int("OMS_FIX_PORT", default=9878)  # the client FIX gateway (acceptor)
OMS_FIX_COMPID = env.str("OMS_FIX_COMPID", default="OMS")  # its SenderCompID (49) to clients
# Whether this deployment runs the client FIX gateway, so health reports it (`fix_acceptor`). The
# test stack starts a gateway only for the tests about it.
OMS_FIX_GATEWAY = env.bool("OMS_FIX_GATEWAY", default=OMS_ENV != "test")
# A Logon from an unknown CompID (or to another TargetCompID) gets a Logout saying why; false: the
# connection is closed without a word, as quickfix does (gateway/fix/front.py).
OMS_FIX_EXPLAIN_UNKNOWN = env.bool("OMS_FIX_EXPLAIN_UNKNOWN", default=True)
# The simulated venues' FIX acceptors (Procfile and demo data read the same variables).
OMS_SIMA_PORT = env.int("OMS_SIMA_PORT", default=9881)
OMS_SIMB_PORT = env.int("OMS_SIMB_PORT", default=9882)
# ClOrdID is unique per account per trading day; the OMS's day ends at OMS_TRADING_DAY_END
# ("HH:MM[:SS]", local; 00:00 is midnight) in this zone, every day (docs/operations.md, The trading day).
OMS_TRADING_DAY_TZ = env.str("OMS_TRADING_DAY_TZ", default="UTC")
OMS_TRADING_DAY_END = env.str("OMS_TRADING_DAY_END", default="00:00")
# Each venue's close (orders/domain/calendar.py): {"<venue>" or "default": {"close": "HH:MM[:SS]",
# "zone": IANA zone, "days": "mon-fri" | "every day" | "mon,tue,..."}}. DAY orders expire at the close;
# a venue's close_time / time_zone in admin override its entry. JSON in the environment.
OMS_VENUE_CALENDAR = env.json(
    "OMS_VENUE_CALENDAR", default={"default": {"close": "16:00", "zone": "America/New_York", "days": "mon-fri"}}
)
# How long after a venue's close the OMS expires the DAY orders the venue did not report expired,
# and after the last close the end-of-day report is made (seconds).
OMS_CLOSE_GRACE_SECONDS = env.float("OMS_CLOSE_GRACE_SECONDS", default=60.0)
# Whether the simulated venues expire their DAY orders at the close (the test stack's run without a
# close, so a test running across 16:00 New York is not surprised; the trading-day tests turn it on).
OMS_SIMULATOR_CLOSES = env.bool("OMS_SIMULATOR_CLOSES", default=OMS_ENV != "test")
# Seconds added to the wall clock by the day's clocks (simulators' close, close sweep, end-of-day
# report): a rehearsal of a close at any hour. Never read on the order path (oms_project/clock.py).
OMS_CLOCK_OFFSET_S = env.float("OMS_CLOCK_OFFSET_S", default=0.0)
# Where the end-of-day reports are written: eod-<date>.json and eod-<date>.csv.
OMS_REPORTS_DIR = env.str("OMS_REPORTS_DIR", default=str(SERVICES.root / "reports"))
# FIX sessions (venues, simulators) keep their sequence numbers for the day; they reset at this
# time of day, UTC ("HH:MM:SS"), quickfix's StartTime.
OMS_FIX_SESSION_START = env.str("OMS_FIX_SESSION_START", default="00:00:00")

# Pre-trade risk (docs/risk.md). Per asset class: the price band (percent either side of the
# reference), how old a reference may be, the margin rate credit is counted at, and the collar a
# market order is valued with beyond the far touch. An instrument may override band and age.
OMS_RISK_ASSET_CLASSES = {
    "equity": {"price_band_pct": "10", "max_reference_age_s": "30", "margin_rate": "0.25", "market_collar_pct": "5"},
    "etf": {"price_band_pct": "5", "max_reference_age_s": "30", "margin_rate": "0.15", "market_collar_pct": "3"},
}
OMS_RISK_DEFAULT_ASSET_CLASS = "equity"  # for an asset class not listed above
# Duplicate order prevention (SEC 15c3-5): the same account, symbol, side, quantity and price
# more than this many times within the window is refused.
OMS_RISK_DUPLICATE_MAX = env.int("OMS_RISK_DUPLICATE_MAX", default=5)
OMS_RISK_DUPLICATE_WINDOW_S = env.float("OMS_RISK_DUPLICATE_WINDOW_S", default=1.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)-7s %(name)s  %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("OMS_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        # Celery says every task sent and done: the heartbeat alone would be a line every few
        # seconds. Tasks log what they do themselves.
        "celery.app.trace": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}

if PRODUCTION:
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)

# A request body larger than this is refused with 400 before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("OMS_MAX_REQUEST_BYTES", default=64 * 1024)
