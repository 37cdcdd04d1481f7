"""Every setting comes from the environment; defaults give a working local demo.

Production sets at least DEBUG=False, SECRET_KEY, FIELD_ENCRYPTION_KEY, SITE_ROOT and
ALLOWED_HOSTS (see docs/deployment.md).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

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


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", True)

# The development key only ever signs sessions on a developer's machine.
SECRET_KEY = os.getenv("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-never-used-in-production-0123456789"  # noqa: S105

# Where this server is reachable; the demo bots' upstream (the embedded emulator) and
# callback URLs derive from it at run time.
SITE_ROOT = os.getenv("SITE_ROOT", "http://127.0.0.1:8000").rstrip("/")

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
    "webclient",
    "webclient.emulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
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

DB_PATH = Path(os.getenv("DB_PATH", str(BASE_DIR / "var" / "db.sqlite3")))
DB_PATH.parent.mkdir(parents=True, exist_ok=True)
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

LANGUAGE_CODE = "en-us"
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
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "webclient.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# Encrypts bot secrets at rest (Fernet, 32 url-safe base64 bytes). Development derives
# one from SECRET_KEY; production must set it.
FIELD_ENCRYPTION_KEY = os.getenv("FIELD_ENCRYPTION_KEY", "")
if not FIELD_ENCRYPTION_KEY and not DEBUG:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG is off")

# Lifetime of the tokens our STS issues, in seconds.
STS_TOKEN_LIFETIME = envint("STS_TOKEN_LIFETIME", 3600)

# Long-poll: the default and the cap of ?wait=, kept well under the ~60 s idle cut-off of
# common proxies and load balancers.
LONGPOLL_DEFAULT_WAIT = envint("LONGPOLL_DEFAULT_WAIT", 25)
LONGPOLL_MAX_WAIT = envint("LONGPOLL_MAX_WAIT", 45)
# Threads (and so database connections) that long-polls share for their short queries.
LONGPOLL_DB_THREADS = envint("LONGPOLL_DB_THREADS", 4)

# Upstream (Kore WebHook API) timeouts, in seconds. Kore cuts synchronous calls at 15 s.
KORE_CONNECT_TIMEOUT = envint("KORE_CONNECT_TIMEOUT", 5)
KORE_READ_TIMEOUT = envint("KORE_READ_TIMEOUT", 20)
# Overall deadline for following a V2 pollId chain.
KORE_POLL_DEADLINE = envint("KORE_POLL_DEADLINE", 120)
# Start the outbox dispatcher in this process when a message is accepted.
KORE_DISPATCHER = envbool("KORE_DISPATCHER", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
}

# The bot a token request without `bot` talks to.
DEFAULT_BOT = os.getenv("DEFAULT_BOT", "demo")
