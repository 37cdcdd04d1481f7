"""Which other sites may use a bot: call its widget API, or frame its chat page.

Each bot lists its allowed origins (Bot.allowed_origins). Calls to the widget API are
checked twice. django-cors-headers answers preflights and adds the CORS headers when the
Origin is allowed by some enabled bot (`cross_origin_allowed`): a preflight carries neither
token nor body, so it cannot name the bot. The library asks through its documented
`check_request_enabled` signal (`cors_request_enabled`, connected in apps.py); the answer
needs the database, which async code may not touch, so `cross_origin_middleware` works it
out before the library's middleware runs, off the event loop when the chain is async.
Then each view, once it knows the bot (from the STS body or the token), refuses with 403 an
Origin that this bot does not allow (`origin_allowed`, applied by the DRF permission
webclient/api/permissions.py). Same-origin requests (the widget in its iframe) are always
allowed. The bare ASGI long-poll path, which bypasses the middleware, calls the same two
functions (webclient/api/longpoll.py).

The chat page may be framed by the same origins (`embedding_origins`, its CSP
frame-ancestors: webclient/views.py), and `embed_refusal` says why a page may not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from corsheaders.conf import conf
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.decorators import sync_and_async_middleware

from webclient.errors import ApplicationError, Kind
from webclient.models import Bot

# scheme://host[:port] and nothing else: the value also goes into a CSP header, where a
# space or ";" would add directives.
_ORIGIN = re.compile(r"(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?/?", re.IGNORECASE)


def normalise(origin: str) -> str:
    """scheme://host[:port], lower-case, as browsers send Origin; "" when not an origin."""
    match = _ORIGIN.fullmatch(origin.strip())
    if match is None:
        return ""
    return match.group(0).rstrip("/").lower()


def own_origins(scheme: str, host: str | None) -> set[str]:
    """This server's origins: the one the request was made to, and SITE_ROOT."""
    origins = {normalise(settings.SITE_ROOT)}
    if host:
        origins.add(normalise(f"{scheme}://{host}"))
    origins.discard("")
    return origins


def request_own_origins(request: HttpRequest) -> set[str]:
    try:
        host: str | None = request.get_host()
    except DisallowedHost:
        host = None
    return own_origins(request.scheme or "http", host)


# Development only: a bot on the embedded emulator (a demo bot) may be embedded by any
# page served from loopback, so README's snippet works against `make run` as written.
# (CSP has no source expression for an IPv6 literal, so [::1] cannot frame it.)
LOOPBACK_SOURCES = ("http://127.0.0.1:*", "http://localhost:*")
_LOOPBACK_ORIGIN = re.compile(r"http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?")


def loopback_allowed(bot: Bot) -> bool:
    return settings.DEBUG and not bot.upstream_url


def is_loopback(origin: str) -> bool:
    return _LOOPBACK_ORIGIN.fullmatch(origin) is not None


def embedding_origins(bot: Bot | None) -> list[str]:
    """CSP sources of the pages that may frame this bot's chat page (besides 'self')."""
    if bot is None:
        return []
    origins = sorted({o for o in (normalise(o) for o in bot.origins) if o})
    return origins + list(LOOPBACK_SOURCES) if loopback_allowed(bot) else origins


def bot_allows(bot: Bot, origin: str) -> bool:
    wanted = normalise(origin)
    if not wanted:
        return False
    return wanted in {normalise(o) for o in bot.origins} or (
        loopback_allowed(bot) and is_loopback(wanted)
    )


def any_bot_allows(origin: str) -> bool:
    wanted = normalise(origin)
    if not wanted:
        return False
    if (
        settings.DEBUG
        and is_loopback(wanted)
        and Bot.objects.filter(enabled=True, upstream_url="").exists()
    ):
        return True
    for text in (
        Bot.objects.filter(enabled=True)
        .exclude(allowed_origins="")
        .values_list("allowed_origins", flat=True)
    ):
        if wanted in {normalise(line) for line in text.splitlines()}:
            return True
    return False


def origin_allowed(origin: str | None, own: set[str], bot: Bot) -> bool:
    """Whether this bot answers the caller: same-origin, or among the bot's allowed origins."""
    return not origin or normalise(origin) in own or bot_allows(bot, origin)


def request_origin_allowed(request: HttpRequest, bot: Bot) -> bool:
    return origin_allowed(request.headers.get("origin"), request_own_origins(request), bot)


def origin_not_allowed() -> ApplicationError:
    return ApplicationError(
        "origin_not_allowed", "This bot does not accept requests from this origin.", Kind.FORBIDDEN
    )


def cross_origin_allowed(origin: str | None, own: set[str]) -> bool:
    """Whether a cross-origin caller gets the CORS headers: some enabled bot allows it."""
    if not origin or normalise(origin) in own:
        return False
    return any_bot_allows(origin)


def cors_headers(origin: str) -> dict[str, str]:
    """What django-cors-headers adds to an allowed non-preflight answer."""
    headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    if conf.CORS_EXPOSE_HEADERS:
        headers["Access-Control-Expose-Headers"] = ", ".join(conf.CORS_EXPOSE_HEADERS)
    return headers


def response_cors_headers(origin: str | None, own: set[str]) -> dict[str, str]:
    """The headers django-cors-headers would add, for a path that bypasses it: none for
    same-origin callers, `Vary: Origin` for an origin no bot allows."""
    if not origin or normalise(origin) in own:
        return {}
    if cross_origin_allowed(origin, own):
        return cors_headers(origin)
    return {"Vary": "Origin"}


# Where CORS applies (settings.CORS_URLS_REGEX): our API and the Kore SDK routes.
CORS_PATHS = ("/api/", "/kore/api/", "/kore/chatbot/")


def request_cross_origin_allowed(request: HttpRequest) -> bool:
    """Whether some enabled bot allows this request's Origin on a CORS-enabled path."""
    if "origin" not in request.headers or not request.path_info.startswith(CORS_PATHS):
        return False
    return cross_origin_allowed(request.headers.get("origin"), request_own_origins(request))


Handler = Callable[[HttpRequest], Any]


@sync_and_async_middleware
def cross_origin_middleware(get_response: Handler) -> Handler:
    """Puts `cors_origin_allowed` on the request for `cors_request_enabled`; goes before
    django-cors-headers' middleware."""
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponseBase:
            allowed = False
            if "origin" in request.headers and request.path_info.startswith(CORS_PATHS):
                allowed = await sync_to_async(request_cross_origin_allowed)(request)
            request.cors_origin_allowed = allowed  # type: ignore[attr-defined]
            response: HttpResponseBase = await get_response(request)
            return response

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponseBase:
        request.cors_origin_allowed = request_cross_origin_allowed(request)  # type: ignore[attr-defined]
        response: HttpResponseBase = get_response(request)
        return response

    return middleware


def cors_request_enabled(sender: Any, request: HttpRequest, **kwargs: Any) -> bool:
    """django-cors-headers' `check_request_enabled` signal: CORS for this request's Origin,
    as `cross_origin_middleware` decided it."""
    return bool(getattr(request, "cors_origin_allowed", False))


@dataclass(frozen=True)
class EmbedRefusal:
    """Why a page may not show a bot's chat in its frame, in the site owner's words."""

    code: str
    message: str


def embed_refusal(slug: str, parent: str, own: set[str]) -> EmbedRefusal | None:
    """Why embed.js on the page at origin `parent` would get no chat for bot `slug`, or None.

    `parent` is what embed.js says the page's origin is: only a hint for the message, since
    the browser enforces frame-ancestors on the chat page whatever a URL claims.
    """
    slug = slug or settings.DEFAULT_BOT
    bot = Bot.objects.filter(slug=slug).first()
    if bot is None:
        return EmbedRefusal(
            "unknown_bot", f'There is no bot "{slug}" on this server: check data-bot.'
        )
    if not bot.enabled:
        return EmbedRefusal(
            "bot_disabled", f'Bot "{slug}" is disabled: enable it in the admin to show it.'
        )
    site = normalise(parent)
    if parent and site not in own and not bot_allows(bot, site):
        shown = site or parent[:100]
        return EmbedRefusal(
            "origin_not_allowed",
            f'This site ({shown}) is not allowed to show bot "{slug}": add {shown} under '
            "the bot's Allowed origins in the admin.",
        )
    return None
