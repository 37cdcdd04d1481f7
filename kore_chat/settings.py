"""Every setting comes from the environment; defaults give a working local demo.

Production sets at least DEBUG=False, SECRET_KEY, FIELD_ENCRYPTION_KEY, SITE_ROOT and
ALLOWED_HOSTS (see docs/deployment.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from webclient.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.getenv(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean, got {value!r}")


def envint(name: str, default: int) -> int:
    value = os.getenv(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def envfloat(name: str, default: float) -> float:
    value = os.getenv(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


def postgres_settings(
    url: str, *, pool_max: int, pool_min: int, pool_timeout: int, pool_reconnect: float
) -> dict[str, Any]:
    """Django's settings for `postgres://user:password@host:port/name?option=value`.

    dj-database-url reads the URL (escapes undone; `postgresql://` and `pgsql://` too); only
    PostgreSQL is accepted, as psycopg's pool and LISTEN/NOTIFY are what the relay uses.
    Query parameters go to libpq as they are (`sslmode`, `connect_timeout`…). Connections come
    from a psycopg pool per process (Django's persistent connections do not suit ASGI, where
    each request runs in a thread of its own); the pool checks a connection before lending it.

    The pool retries a failed connection with a doubling delay (1, 2, 4, 8 s…) until its
    `reconnect_timeout`; left at psycopg's five minutes, a database back after a 10 s outage
    could wait up to 16 s for the next try. `pool_reconnect` seconds bound each series of
    tries instead: it is abandoned, and the next request that needs a connection starts a
    new one at once, so a returning database is found within about a second.
    """
    try:
        config = dj_database_url.parse(url, conn_max_age=0, conn_health_checks=True)
    except dj_database_url.UnknownSchemeError:
        config = {}
    except ValueError:
        raise ImproperlyConfigured(
            "DATABASE_URL cannot be read: an invalid port, or a character not percent-encoded"
        ) from None
    if config.get("ENGINE") != "django.db.backends.postgresql":
        scheme = url.partition("://")[0]
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgres:// or postgresql://, got {scheme!r}://"
        )
    if not config.get("NAME"):
        raise ImproperlyConfigured("DATABASE_URL must name a database: postgres://host/name")
    options: dict[str, Any] = config.get("OPTIONS", {})
    options["pool"] = {
        "min_size": min(pool_min, pool_max),
        "max_size": pool_max,
        "timeout": pool_timeout,
        "reconnect_timeout": pool_reconnect,
    }
    # With a pool, a connection goes back to it at the end of each request, and the pool
    # checks it (one round trip) before lending it again (CONN_MAX_AGE 0, health checks on).
    return {**config, "PORT": str(config.get("PORT", "")), "OPTIONS": options}


DEBUG = envbool("DEBUG", True)

# The development key only ever signs sessions on a developer's machine.
SECRET_KEY = os.getenv("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-never-used-in-production-0123456789"  # noqa: S105

# Where this server is reachable; the demo bots' upstream (the embedded emulator) and
# callback URLs derive from it at run time. Unset in development, it is the address
# `make run` serves (it writes var/site-root, PORT=8100 make run included), so that
# management commands and the server agree; else http://127.0.0.1:8000.
SITE_ROOT_FILE = BASE_DIR / "var" / "site-root"


def site_root_default() -> str:
    recorded = SITE_ROOT_FILE.read_text().strip() if SITE_ROOT_FILE.is_file() else ""
    return recorded or "http://127.0.0.1:8000"


SITE_ROOT = (
    os.getenv("SITE_ROOT") or (site_root_default() if DEBUG else "http://127.0.0.1:8000")
).rstrip("/")

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "corsheaders",
    "drf_spectacular",
    "webclient",
]
# The embedded Kore emulator (webclient/emulator/, docs/emulator.md), a stand-in for the
# platform with demo bots: installed and mounted at /emulator/ only when on.
KORE_EMULATOR = envbool("KORE_EMULATOR", DEBUG)
if KORE_EMULATOR:
    INSTALLED_APPS.append("webclient.emulator")

MIDDLEWARE = [
    "webclient.logs.request_id_middleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "kore_chat.staticfiles.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "webclient.bot_origins.cross_origin_middleware",
    "corsheaders.middleware.CorsMiddleware",
    "webclient.api.middleware.body_limit_middleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "kore_chat.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "kore_chat.asgi.application"

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

# Threads (and so database connections) that long-polls share for their short queries, and
# those of the outbox dispatcher (webclient/dbthreads.py).
LONGPOLL_DB_THREADS = envint("LONGPOLL_DB_THREADS", 4)
DISPATCHER_DB_THREADS = envint("DISPATCHER_DB_THREADS", 2)

# The database: SQLite in a file by default (one process), PostgreSQL when DATABASE_URL names
# one (any number of processes and hosts; docs/deployment.md).
DB_PATH = Path(os.getenv("DB_PATH", str(BASE_DIR / "var" / "db.sqlite3")))
DB_PATH.parent.mkdir(parents=True, exist_ok=True)
DATABASE_URL = os.getenv("DATABASE_URL", "")
# Redis (redis://[:password@]host:port/db): the cache every process shares (rate-limit
# counters) and, with NOTIFY_BACKEND=redis, the wake-ups between processes.
REDIS_URL = os.getenv("REDIS_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": postgres_settings(
            DATABASE_URL,
            # Each process's connection pool: the long-poll and dispatcher threads keep one
            # each, Django requests borrow one for the length of a request.
            pool_max=envint(
                "DB_POOL_MAX_SIZE",
                LONGPOLL_DB_THREADS + DISPATCHER_DB_THREADS + envint("DB_REQUEST_CONNECTIONS", 8),
            ),
            pool_min=envint("DB_POOL_MIN_SIZE", 2),
            pool_timeout=envint("DB_POOL_TIMEOUT", 10),
            pool_reconnect=envint("DB_POOL_RECONNECT_TIMEOUT", 2),
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DB_PATH,
            "OPTIONS": {
                # WAL lets long-poll reads run while the relay writes; IMMEDIATE takes the
                # write lock up front so concurrent writers queue instead of failing.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            "CONN_MAX_AGE": envint("CONN_MAX_AGE", 0),
            # A file, not shared-cache memory: tests run queries from several threads, and
            # shared-cache SQLite fails concurrent readers instead of letting WAL serve them.
            "TEST": {"NAME": os.getenv("TEST_DB_PATH", str(DB_PATH.parent / "test-db.sqlite3"))},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The widget's languages (webclient/i18n.py); Arabic is written right to left.
LANGUAGES = [("en", "English"), ("ar", "العربية")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Without collectstatic (the one-command demo), whitenoise serves from the finders.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["webclient.api.auth.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_PARSER_CLASSES": [
        "webclient.security.limits.JSONParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "webclient.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# The OpenAPI schema at /api/schema/ (webclient/api/schema.py; docs/api.md in words).
SPECTACULAR_SETTINGS = {
    "TITLE": "kore-chat",
    "DESCRIPTION": "The public HTTP API of kore-chat: tokens, messages (send and long-poll), "
    "attachments, Kore's callbacks, pages and health. Errors everywhere: "
    '{"error": {"code", "message"}}.',
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "webclient.api.schema.routes_outside_drf",
    ],
}

# Encrypts bot secrets at rest (Fernet, 32 url-safe base64 bytes). Development derives
# one from SECRET_KEY; production must set it.
FIELD_ENCRYPTION_KEY = os.getenv("FIELD_ENCRYPTION_KEY", "")
if not FIELD_ENCRYPTION_KEY and not DEBUG:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG is off")

# Lifetime of the tokens our STS issues, in seconds.
STS_TOKEN_LIFETIME = envint("STS_TOKEN_LIFETIME", 3600)
# Oldest a chain of refreshes may grow, in seconds from the STS call that started it; past
# it, refresh is refused and the widget needs a new STS call with its identity proof.
STS_MAX_SESSION_AGE = envint("STS_MAX_SESSION_AGE", 24 * 3600)

# Long-poll: the default and the cap of ?wait=, kept well under the ~60 s idle cut-off of
# common proxies and load balancers.
LONGPOLL_DEFAULT_WAIT = envint("LONGPOLL_DEFAULT_WAIT", 25)
LONGPOLL_MAX_WAIT = envint("LONGPOLL_MAX_WAIT", 45)
# Seconds what a query found of a conversation answers its polls with no query (a message
# written without notifying, as by the admin or a shell, reaches every poll within this);
# fractions allowed (webclient/delivery/knowledge.py).
LONGPOLL_KNOWLEDGE_SECONDS = envfloat("LONGPOLL_KNOWLEDGE_SECONDS", 5.0)
if not 0 < LONGPOLL_KNOWLEDGE_SECONDS <= 3600:
    raise ImproperlyConfigured(
        f"LONGPOLL_KNOWLEDGE_SECONDS must be over 0 and at most 3600, "
        f"got {LONGPOLL_KNOWLEDGE_SECONDS}"
    )
# Kore's Web SDK (docs/kore-sdk.md): seconds a send waits for the bot's first words before
# answering Inprogress with a pollId, and seconds after a conversation's last message during
# which its poll chain goes on (the SDK polls every second while it holds a pollId).
KORE_SDK_SEND_WAIT = envint("KORE_SDK_SEND_WAIT", 3)
KORE_SDK_POLL_CHAIN = envint("KORE_SDK_POLL_CHAIN", 600)
# Long-polls admitted per turn of the event loop while a burst of them is queued (a reconnect
# storm), so that other requests are served in between (webclient/api/admission.py).
LONGPOLL_ADMIT_PER_TURN = envint("LONGPOLL_ADMIT_PER_TURN", 32)
# Long-polls a worker holds at once for one bot's identity (a widget holds one per open tab)
# and for one client address (an office behind one NAT shares it); past either, 429. Open
# files a worker keeps for everything but long-polls (pages, sends, health checks, the
# admin, the database): past its open-file limit less this, polls get 503.
LONGPOLL_MAX_PER_IDENTITY = envint("LONGPOLL_MAX_PER_IDENTITY", 10)
LONGPOLL_MAX_PER_ADDRESS = envint("LONGPOLL_MAX_PER_ADDRESS", 500)
LONGPOLL_FD_RESERVE = envint("LONGPOLL_FD_RESERVE", 1024)
# Seconds a process trusts the bots it cached (webclient/botcache.py) when it cannot hear of
# a change: changes made in the same process, or in any process sharing CACHE_BACKEND,
# apply at once.
BOT_CACHE_SECONDS = envint("BOT_CACHE_SECONDS", 30)
# How often a process reads the bots' generation from the shared cache (a change made in
# another process applies within this); seconds, fractions allowed.
BOT_CHANGE_CHECK_SECONDS = envfloat("BOT_CHANGE_CHECK_SECONDS", 1.0)
# How a stored message wakes long-polls held by other processes (webclient/delivery/):
# "postgres" (LISTEN/NOTIFY, the default on PostgreSQL), "redis" (pub/sub on REDIS_URL) or
# "local" (this process only: the default on SQLite, which serves one process).
NOTIFY_BACKEND = os.getenv("NOTIFY_BACKEND", "") or ("postgres" if DATABASE_URL else "local")
if NOTIFY_BACKEND not in ("postgres", "redis", "local"):
    raise ImproperlyConfigured(
        f"NOTIFY_BACKEND must be postgres, redis or local, got {NOTIFY_BACKEND!r}"
    )
if NOTIFY_BACKEND == "postgres" and not DATABASE_URL:
    raise ImproperlyConfigured("NOTIFY_BACKEND=postgres needs DATABASE_URL (PostgreSQL)")
if NOTIFY_BACKEND == "redis" and not REDIS_URL:
    raise ImproperlyConfigured("NOTIFY_BACKEND=redis needs REDIS_URL")
# The Redis pub/sub channel; deployments sharing one Redis server need different ones.
NOTIFY_REDIS_CHANNEL = os.getenv("NOTIFY_REDIS_CHANNEL", "kore-chat:messages")

# Upstream (Kore WebHook API) timeouts, in seconds. Kore cuts synchronous calls at 15 s.
KORE_CONNECT_TIMEOUT = envint("KORE_CONNECT_TIMEOUT", 5)
KORE_READ_TIMEOUT = envint("KORE_READ_TIMEOUT", 20)
# Overall deadline for following a V2 pollId chain.
KORE_POLL_DEADLINE = envint("KORE_POLL_DEADLINE", 120)
# Run the outbox dispatcher, its pollId chains and sweeps in each web worker (the embedded
# default). False: web workers only tell `manage.py relay` processes of accepted messages
# (the production layout, docs/deployment.md).
KORE_DISPATCHER = envbool("KORE_DISPATCHER", True)
# How long a stopping dispatcher (SIGTERM to `manage.py relay`, a web worker shutting down)
# lets the forwards and pollId chains in flight finish before it ends them.
KORE_RELAY_STOP_GRACE = envfloat("KORE_RELAY_STOP_GRACE", 20.0)

# Relay (webclient/kore/, docs/relay.md). Upstream calls answered 429, 500/502/503 or
# refused are retried this many times, with jittered exponential back-off from the base
# delay, honouring Retry-After up to the max delay (a longer Retry-After fails at once).
KORE_MAX_RETRIES = envint("KORE_MAX_RETRIES", 3)
KORE_RETRY_BASE_MS = envint("KORE_RETRY_BASE_MS", 500)
KORE_RETRY_MAX_DELAY = envint("KORE_RETRY_MAX_DELAY", 30)
# Seconds a forward in flight stays claimed without its process renewing the claim; after
# that (the process died) the message is failed, never sent twice.
KORE_FORWARD_LEASE = envint("KORE_FORWARD_LEASE", 30)
# Async callbacks (POST_URL): largest body accepted, and how long a repeated V1 body (V1 has
# no message id) counts as a redelivery of the same message.
KORE_CALLBACK_MAX_BYTES = envint("KORE_CALLBACK_MAX_BYTES", 1024 * 1024)
KORE_CALLBACK_DEDUP_WINDOW = envint("KORE_CALLBACK_DEDUP_WINDOW", 300)
# Kore's documented V2 POST_URL body names no user: such a callback goes to the only
# conversation of its bot that sent an asynchronous bot a message within this many seconds
# (renewed by each callback routed to it); with none or several, it is kept as undeliverable.
KORE_CALLBACK_ROUTE_WINDOW = envint("KORE_CALLBACK_ROUTE_WINDOW", 300)
# Lifetime of the token on each upstream call (each call gets its own, with its own jti);
# Kore refuses a token with a jti that lives longer than an hour.
KORE_UPSTREAM_TOKEN_LIFETIME = envint("KORE_UPSTREAM_TOKEN_LIFETIME", 300)
if not 1 <= KORE_UPSTREAM_TOKEN_LIFETIME <= 3600:
    raise ImproperlyConfigured("KORE_UPSTREAM_TOKEN_LIFETIME must be 1 to 3600 seconds")
# Hosts a bot's upstream_url may name ("*.example.com" matches subdomains). The embedded
# emulator (blank upstream_url) and loopback hosts are allowed only in DEBUG or with
# KORE_ALLOW_LOOPBACK_UPSTREAM, so a bot setting cannot aim the relay at internal services.
KORE_UPSTREAM_HOSTS = envlist("KORE_UPSTREAM_HOSTS", "bots.kore.ai,platform.kore.ai")
KORE_ALLOW_LOOPBACK_UPSTREAM = envbool("KORE_ALLOW_LOOPBACK_UPSTREAM", False)
# The embedded emulator's synchronous cut-off (Kore's is 15 s); tests shorten it.
KORE_EMULATOR_SYNC_TIMEOUT = envint("KORE_EMULATOR_SYNC_TIMEOUT", 15)

# Operations (docs/operations.md). LOG_FORMAT: "plain" or "json" (one object per line).
LOG_FORMAT = os.getenv("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = logging_config(log_format=LOG_FORMAT, level=os.getenv("LOG_LEVEL", "INFO"))
# Several workers' metrics (webclient/metrics.py): prometheus-client's multiprocess mode
# writes a file per process into this directory from the first metric on, so it must exist
# before anything loads the metrics: made here, or refused in one line saying what to do.
PROMETHEUS_MULTIPROC_DIR = os.getenv("PROMETHEUS_MULTIPROC_DIR", "")
if PROMETHEUS_MULTIPROC_DIR:
    try:
        Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"PROMETHEUS_MULTIPROC_DIR={PROMETHEUS_MULTIPROC_DIR} cannot be created "
            f"({exc.strerror}): create that directory, writable by this user, or unset it"
        ) from None
    if not os.access(PROMETHEUS_MULTIPROC_DIR, os.W_OK | os.X_OK):
        raise ImproperlyConfigured(
            f"PROMETHEUS_MULTIPROC_DIR={PROMETHEUS_MULTIPROC_DIR} is not writable by this "
            "user: make it writable, or unset it"
        )
# /metrics answers `Authorization: Bearer <METRICS_TOKEN>`; unset, the route is off (404).
METRICS_TOKEN = os.getenv("METRICS_TOKEN", "")
# Conversations idle this many days are deleted by `manage.py purge_conversations`; 0: kept.
RETENTION_DAYS = envint("RETENTION_DAYS", 0)

# The bot a token request without `bot` talks to.
DEFAULT_BOT = os.getenv("DEFAULT_BOT", "demo")

# Security (docs/security.md, docs/deployment.md).
# HTTPS: served over TLS (directly or behind a terminating proxy). Turns on secure cookies,
# HSTS and the redirect from plain HTTP; health checks stay reachable over HTTP.
HTTPS = envbool("HTTPS", False)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
# Preloading is a commitment browsers remember for months: the operator opts in.
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
# Only behind a proxy that sets X-Forwarded-Proto and drops the client's own.
if envbool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every Django response (django-csp). No inline script anywhere:
# the widget, the admin and the gallery load their scripts from files. Bot content is
# sanitised server-side and may show images and media from any web host (http: too, as the
# renderer allows it; on an HTTPS page browsers upgrade or block it). No page may be framed,
# but the chat page, by its bot's allowed origins, and the embed's refusal notice, by any
# page (webclient/views.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:", "http:"],
        "media-src": ["'self'", "https:", "http:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# CORS on the widget API only; the allowed origins are each bot's (webclient/bot_origins.py).
# Retry-After is exposed so a cross-origin widget can honour a 429.
# The Kore SDK routes (/kore/api/, /kore/chatbot/) follow the same rules.
CORS_URLS_REGEX = r"^/(api|kore/api|kore/chatbot)/"
CORS_EXPOSE_HEADERS = ["Retry-After"]
# Rate limits: requests per RATELIMIT_WINDOW seconds; 0 switches a rule off. Counters live
# in the default cache: shared through Redis when REDIS_URL is set, else per process.
RATELIMIT_ENABLED = envbool("RATELIMIT_ENABLED", True)
RATELIMIT_WINDOW = envint("RATELIMIT_WINDOW", 60)
RATELIMIT_STS_PER_IP = envint("RATELIMIT_STS_PER_IP", 60)
RATELIMIT_SEND_PER_IDENTITY = envint("RATELIMIT_SEND_PER_IDENTITY", 30)
RATELIMIT_SEND_PER_IP = envint("RATELIMIT_SEND_PER_IP", 120)
RATELIMIT_CALLBACK_REFUSALS_PER_IP = envint("RATELIMIT_CALLBACK_REFUSALS_PER_IP", 20)
# Reverse proxies whose X-Forwarded-For is believed: addresses or networks (10.0.0.0/8).
# Empty (the default): the peer is the client, whatever the headers say. Read both by
# client_ip() (webclient/security/ratelimit.py) and by `python -m kore_chat.serve`, which
# gives granian's proxy-headers wrapper the same list (only when it is set).
TRUSTED_PROXIES = envlist("TRUSTED_PROXIES", "")
# "local": this process's own, where rate limits count while the shared cache is down.
LOCAL_CACHE = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local"}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.getenv("CACHE_KEY_PREFIX", "kore-chat"),
            # An unreachable Redis fails a call within a second, never holds it.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
        "local": LOCAL_CACHE,
    }
else:
    CACHES = {
        "default": {
            "BACKEND": os.getenv("CACHE_BACKEND", "django.core.cache.backends.locmem.LocMemCache"),
            "LOCATION": os.getenv("CACHE_LOCATION", "kore-chat"),
        },
        "local": LOCAL_CACHE,
    }
# Request caps: bytes of body on /api/ (callbacks: KORE_CALLBACK_MAX_BYTES, attachments:
# ATTACHMENT_MAX_BYTES), on every other path (pages, the admin: Django's own default for
# form data), and JSON nesting.
API_MAX_BODY_BYTES = envint("API_MAX_BODY_BYTES", 64 * 1024)
MAX_BODY_BYTES = envint("MAX_BODY_BYTES", 2_621_440)
JSON_MAX_DEPTH = envint("JSON_MAX_DEPTH", 64)
# Slow clients (`python -m kore_chat.serve`, docs/deployment.md), in seconds: a request's
# headers must arrive within HTTP_HEADER_TIMEOUT (1 to 60) of the connection opening (or of
# the end of the previous response: an idle keep-alive connection is closed after as long),
# its body within HTTP_BODY_TIMEOUT of its headers.
HTTP_HEADER_TIMEOUT = envint("HTTP_HEADER_TIMEOUT", 10)
HTTP_BODY_TIMEOUT = envint("HTTP_BODY_TIMEOUT", 30)
# Connections the kernel queues before the server accepts them: enough for a reconnect storm
# of open widgets (docs/performance.md); the kernel caps it at net.core.somaxconn.
HTTP_BACKLOG = envint("HTTP_BACKLOG", 4096)

# Attachments (webclient/attachments.py, docs/widget.md): the content types users may attach
# (checked by content; empty: attachments off), the largest file, and how long a link to a
# file works, in seconds. Files go to STORAGES["attachments"]: local disk under MEDIA_ROOT,
# or any Django storage backend named by ATTACHMENT_STORAGE_BACKEND with JSON options in
# ATTACHMENT_STORAGE_OPTIONS (e.g. django-storages' S3Storage for S3-compatible stores).
ATTACHMENT_TYPES = envlist(
    "ATTACHMENT_TYPES", "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain"
)
ATTACHMENT_MAX_BYTES = envint("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
ATTACHMENT_LINK_LIFETIME = envint("ATTACHMENT_LINK_LIFETIME", 24 * 3600)
# Quotas (bytes; 0: none), past which an upload gets 429 over_quota: what one identity may
# hold in files it uploaded and has not sent yet, and what one conversation may hold in files
# (sent or not). A file not sent within ATTACHMENT_UNSENT_GRACE seconds of its upload is
# swept with the relay's chores (and by `purge_conversations --unsent-files`).
ATTACHMENT_QUOTA_PER_IDENTITY = envint("ATTACHMENT_QUOTA_PER_IDENTITY", 25 * 1024 * 1024)
ATTACHMENT_QUOTA_PER_CONVERSATION = envint("ATTACHMENT_QUOTA_PER_CONVERSATION", 100 * 1024 * 1024)
ATTACHMENT_UNSENT_GRACE = envint("ATTACHMENT_UNSENT_GRACE", 3600)
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "attachments": {
        "BACKEND": os.getenv(
            "ATTACHMENT_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": json.loads(os.getenv("ATTACHMENT_STORAGE_OPTIONS", "{}"))
        or {"location": str(MEDIA_ROOT / "attachments")},
    },
}
