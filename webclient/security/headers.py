"""Content-Security-Policy on every Django response, and who may frame the chat page.

No inline script anywhere (`script-src 'self'`): the widget, the admin and the gallery
load their scripts from files. Bot content is sanitised server-side and may show images
and media from any web host. The chat page may be framed by the bot's allowed origins
(embed.js puts it in an iframe); the notice shown instead of the chat when a page may not
show it, which has nothing to act on or hide, by any page; every other page by nobody.
X-Content-Type-Options, Referrer-Policy, HSTS and secure cookies come from Django's
SecurityMiddleware settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.decorators import sync_and_async_middleware

from webclient import selectors
from webclient.security.cors import embedding_origins

BASE_POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    # http: too, as the renderer allows it; on an HTTPS page browsers upgrade or block it.
    "img-src 'self' data: https: http:",
    "media-src 'self' https: http:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
)
CHAT_PAGE = "chat"


def is_chat_page(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.url_name == CHAT_PAGE


def chat_frame_ancestors(request: HttpRequest) -> str:
    bot = selectors.bot_find(slug=request.GET.get("bot"))
    return " ".join(["'self'", *embedding_origins(bot)])


def apply(response: HttpResponseBase, frame_ancestors: str) -> HttpResponseBase:
    if "Content-Security-Policy" not in response:
        response["Content-Security-Policy"] = "; ".join(
            [*BASE_POLICY, f"frame-ancestors {frame_ancestors}"]
        )
    return response


def framable_by_anyone(response: HttpResponseBase) -> HttpResponseBase:
    """A page with nothing to act on or hide (the embed's refusal notice): any page may
    frame it."""
    _allow_framing(response)
    return apply(response, "*")


def _allow_framing(response: HttpResponseBase) -> None:
    # frame-ancestors decides; X-Frame-Options: DENY would forbid the embedding outright.
    del response["X-Frame-Options"]


Handler = Callable[[HttpRequest], Any]


@sync_and_async_middleware
def security_headers_middleware(get_response: Handler) -> Handler:
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponseBase:
            response: HttpResponseBase = await get_response(request)
            if not is_chat_page(request):
                return apply(response, "'none'")
            _allow_framing(response)
            return apply(response, await sync_to_async(chat_frame_ancestors)(request))

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = get_response(request)
        if not is_chat_page(request):
            return apply(response, "'none'")
        _allow_framing(response)
        return apply(response, chat_frame_ancestors(request))

    return middleware
