"""Settings for the SmartCharging CSMS, read from the environment (twelve-factor).

Every value has a default that gives the embedded set-up: SQLite in ``var/`` and the
in-memory channel layer, so ``scripts/demo`` works on a fresh machine with no
configuration at all.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CSMS_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    """A yes/no setting; anything unclear is refused rather than read as "no" (an empty
    or misspelt CSMS_API_AUTH must not open the API)."""
    value = os.environ.get(name)
    if value is None:
        return default
    value = value.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be on or off (true/false, 1/0), not {value!r}")


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


DEFAULT_SECRET_KEY = "insecure-dev-key-change-me"
SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
# "production" refuses the development conveniences below; "development" (the demo) allows them.
CSMS_ENV = os.environ.get("CSMS_ENV", "development").strip().lower()
if CSMS_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"CSMS_ENV must be development or production, not {CSMS_ENV!r}")
if CSMS_ENV == "production":
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off in production (CSMS_ENV=production)")
    if SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured(
            "Set SECRET_KEY to a random value of at least 32 characters in production"
        )
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "*").split(",") if h.strip()]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "adrf",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "stations",
    "profiles",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "csms_project.urls"

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

ASGI_APPLICATION = "csms_project.asgi.application"

# --- Database -------------------------------------------------------------------------
# SQLite by default; DATABASE_URL=postgres://user@host/db selects PostgreSQL (psycopg 3).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'csms.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads write at once (consumers, API, message log): WAL lets readers go on
    # while one writes, IMMEDIATE avoids deadlocking upgrades, and the timeout makes
    # writers wait for each other instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so the live-server thread of the tests shares it; one per test
    # process, so that two test runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test_csms_{os.getpid()}.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A commit waits for its WAL flush only when DB_SYNCHRONOUS_COMMIT=on. Off (the
    # default) matches SQLite's synchronous=NORMAL above: a crash of this process loses
    # nothing and the data stays consistent; a crash of the database server's machine
    # may lose the last fraction of a second of history. Each request commits twice,
    # and on this machine a flush costs several milliseconds (see BENCHMARKS.md).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c synchronous_commit={os.environ.get('DB_SYNCHRONOUS_COMMIT', 'off')}"
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Threads (and so connections) per process for ORM calls made from async code; with
# SQLite there is always one (see stations/db.py).
DB_THREADS = env_int("DB_THREADS", 8)

# --- Channel layer -----------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "capacity": env_int("CHANNEL_LAYER_CAPACITY", 5000),
                "expiry": env_int("CHANNEL_LAYER_EXPIRY", 60),
            },
        }
    }
else:
    # One process: channels' InMemoryChannelLayer scans every channel on each receive and
    # group_send (O(stations²) to boot a fleet); this one does not (stations/channel_layer.py).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "stations.channel_layer.LocalChannelLayer",
            "CONFIG": {"capacity": env_int("CHANNEL_LAYER_CAPACITY", 5000), "expiry": 60},
        }
    }

# --- OCPP --------------------------------------------------------------------------------
# How long a REST request waits for a station's answer before it reports a timeout.
OCPP_CALL_TIMEOUT = env_float("OCPP_CALL_TIMEOUT", 30.0)
# The interval a station is told to send heartbeats at (BootNotification.conf).
OCPP_HEARTBEAT_INTERVAL = env_int("OCPP_HEARTBEAT_INTERVAL", 300)
# How long to wait for the GetConfiguration answer that follows a boot.
OCPP_CONFIG_TIMEOUT = env_float("OCPP_CONFIG_TIMEOUT", 10.0)
# OCPP frames kept per station for /logs are written in batches off the hot path.
OCPP_LOG_FLUSH_INTERVAL = env_float("OCPP_LOG_FLUSH_INTERVAL", 0.5)
# The garbage collector's thresholds for the server (Python's default: 700, 10, 10).
# A full collection walks every object of every connected station (about 1.5 s at
# 10,000) and starts once a quarter as many objects as the old generation holds have
# been promoted into it. With the default, objects of calls in flight are promoted
# within milliseconds, so under load full collections came every few seconds, each
# freeing a few hundred objects. A larger first threshold lets them die young; a small
# second one keeps the middle generation small: with 50000,50 it held the survivors of
# fifty young collections and one collection of it stopped the process for 1.24 s at
# 10,000 stations, against at most 0.23 s with 10000,10 (BENCHMARKS.md). "700,10,10"
# restores the default.
CSMS_GC_THRESHOLDS = tuple(
    int(n) for n in os.environ.get("CSMS_GC_THRESHOLDS", "10000,10,100").split(",")
)
# Heartbeats update Station.last_seen in batches, this often (seconds).
OCPP_LAST_SEEN_FLUSH_INTERVAL = env_float("OCPP_LAST_SEEN_FLUSH_INTERVAL", 5.0)

# Presence: each server process renews its heartbeat this often (s); a process silent for
# CSMS_NODE_EXPIRY seconds is taken for dead, its stations disconnected, its calls ended.
CSMS_NODE_HEARTBEAT_INTERVAL = env_float("CSMS_NODE_HEARTBEAT_INTERVAL", 10.0)
CSMS_NODE_EXPIRY = env_float("CSMS_NODE_EXPIRY", 30.0)

# A garbage collection or a database job that stops this long (s) is logged, with what
# the job was doing: every request and station frame waits meanwhile.
CSMS_PAUSE_WARN_SECONDS = env_float("CSMS_PAUSE_WARN_SECONDS", 0.5)

# WebSocket keep-alive pings: a dead TCP connection is noticed within interval + timeout.
WEBSOCKET_PING_INTERVAL = env_float("WEBSOCKET_PING_INTERVAL", 60.0)
WEBSOCKET_PING_TIMEOUT = env_float("WEBSOCKET_PING_TIMEOUT", 30.0)

# Where simulated stations hosted by the server connect (the serve command sets it to
# its own OCPP port).
SIMULATOR_CSMS_URL = os.environ.get("SIMULATOR_CSMS_URL", "ws://127.0.0.1:9000")
# Hosts a `url` given to POST /simulator/stations may name, besides SIMULATOR_CSMS_URL's:
# the server opens the connections, so any host would let a caller make it connect
# anywhere. "*" allows every host (a lab simulating against other systems).
SIMULATOR_ALLOWED_HOSTS = [
    h.strip().lower().strip("[]")
    for h in os.environ.get("SIMULATOR_ALLOWED_HOSTS", "localhost,127.0.0.1,::1").split(",")
    if h.strip()
]

# Bulk operations call this many stations at once.
BULK_CONCURRENCY = env_int("BULK_CONCURRENCY", 200)

# --- REST API ----------------------------------------------------------------------------
# API keys are required unless CSMS_API_AUTH=off (a closed lab; a warning is logged).
CSMS_API_AUTH = env_bool("CSMS_API_AUTH", True)
# Requests per caller: per API key, and per client address for calls without a key.
CSMS_THROTTLE_KEY_RATE = os.environ.get("CSMS_THROTTLE_KEY_RATE", "6000/min")
CSMS_THROTTLE_ANON_RATE = os.environ.get("CSMS_THROTTLE_ANON_RATE", "120/min")

# Stations: "known" accepts only registered stations with their password (HTTP Basic,
# OCPP-J security profile 1); "auto" registers unknown ids on first connect (the demo).
CSMS_STATION_AUTH = os.environ.get(
    "CSMS_STATION_AUTH", "known" if CSMS_ENV == "production" else "auto"
)
if CSMS_STATION_AUTH not in {"known", "auto"}:
    raise ImproperlyConfigured("CSMS_STATION_AUTH must be known or auto")
# Largest OCPP frame accepted (bytes); a station sending more is disconnected.
OCPP_MAX_FRAME_BYTES = env_int("OCPP_MAX_FRAME_BYTES", 65536)
# CALLs a station may send: a sustained rate per second and a burst; a station that keeps
# exceeding it for OCPP_FLOOD_DISCONNECT_AFTER frames is disconnected.
OCPP_STATION_CALL_RATE = env_float("OCPP_STATION_CALL_RATE", 20.0)
OCPP_STATION_CALL_BURST = env_int("OCPP_STATION_CALL_BURST", 100)
OCPP_FLOOD_DISCONNECT_AFTER = env_int("OCPP_FLOOD_DISCONNECT_AFTER", 50)

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
    # Rate-limit counters: per process, in memory, so no request waits on the network.
    "throttle": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                 "LOCATION": "throttle"},
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.authentication.HasRole"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttles.CallerRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    # Client addresses for rate limits: X-Forwarded-For is trusted only behind this many
    # proxies (0: never, so a client cannot pick a fresh address per request).
    "NUM_PROXIES": env_int("CSMS_NUM_PROXIES", 0),
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "SmartCharging CSMS API",
    "DESCRIPTION": (
        "OCPP 1.6J Central System: send charging profiles to charge points, read their "
        "composite schedules, clear profiles. Every call is recorded for audit."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page and the schema are public; every call they describe needs a key.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "ENUM_NAME_OVERRIDES": {
        "OperationStatusEnum": ["success", "rejected", "error"],
        "ClearStatusEnum": ["success", "unknown", "rejected", "error"],
    },
}

# --- Internationalisation, static files ---------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# --- Logging -----------------------------------------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # The contract's log lines read "INFO:controller_api:API: ..." - level, logger, text.
        "plain": {"format": ("%(asctime)s " if env_bool("LOG_TIMESTAMPS", False) else "")
                  + "%(levelname)s:%(name)s:%(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The ocpp package logs every frame at INFO; we keep frames in the database instead.
        "ocpp": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        # Simulated stations' lines go to their /logs; the console gets warnings only.
        "simulator": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
    },
}
