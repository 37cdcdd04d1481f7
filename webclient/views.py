"""Pages: the chat page (the widget, full window; embed.js frames it).

Who may frame it is known only once the bot is: the chat page's CSP frame-ancestors (the
policy itself is settings.CONTENT_SECURITY_POLICY, applied by django-csp) are this site and
the bot's allowed origins; the notice shown instead of the chat when a page may not show it,
which has nothing to act on or hide, may be framed by any page.
"""

from __future__ import annotations

import logging

from csp.decorators import csp_replace
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import ensure_csrf_cookie

from webclient import i18n, selectors, theming
from webclient.bot_origins import (
    EmbedRefusal,
    embed_refusal,
    embedding_origins,
    request_own_origins,
)

log = logging.getLogger(__name__)


def session_key(request: HttpRequest) -> str:
    """An opaque per-user key, so the widget keeps a logged-in user's state apart from any
    other user's on a shared browser (the identity itself is the server's to decide)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    return salted_hmac("webclient.widget-session", str(user.pk)).hexdigest()[:24]


def framable_by(
    request: HttpRequest, response: HttpResponseBase, sources: list[str]
) -> HttpResponseBase:
    """`response` with CSP frame-ancestors `sources`: django-csp's `csp_replace`, applied to
    this one response, as its value depends on the bot asked for."""
    return csp_replace({"frame-ancestors": sources})(lambda _request: response)(request)


@xframe_options_exempt  # frame-ancestors decides; X-Frame-Options: DENY would forbid embedding
@ensure_csrf_cookie
def chat_page(request: HttpRequest) -> HttpResponseBase:
    """The widget. Direct links may vouch for a user with `identity` and `identityHash`
    (verified bots); embedded (`embed=1`), the widget waits for them from embed.js by
    postMessage instead, so they never appear in a URL. The CSRF cookie lets a logged-in
    session vouch too."""
    embedded = request.GET.get("embed") == "1"
    lang = i18n.choose_language(request)
    if embedded:
        refused = embed_refusal(
            request.GET.get("bot", ""), request.GET.get("parent", ""), request_own_origins(request)
        )
        if refused is not None:
            return embed_refused_page(request, refused, lang)
    bot = selectors.bot_find(slug=request.GET.get("bot"))
    if bot is None:
        return framable_by(request, chat_unavailable(request, lang), ["'self'"])
    direct = not embedded and direct_link_trusted(request)
    context = {
        "bot": bot.slug if bot else request.GET.get("bot", ""),
        "theme": theming.theme_of(bot),
        "theme_slug": bot.slug if bot else "",
        "theme_version": int(bot.updated_at.timestamp()) if bot else 0,
        "embedded": embedded,
        "identity": request.GET.get("identity", "") if direct else "",
        "identity_hash": request.GET.get("identityHash", "") if direct else "",
        "parent_origins": " ".join(embedding_origins(bot)),
        "session_key": session_key(request),
        "lang": lang,
        "attach_types": ",".join(settings.ATTACHMENT_TYPES),
    }
    with translation.override(lang):
        response = render(request, "webclient/chat.html", context)
    return framable_by(request, response, ["'self'", *embedding_origins(bot)])


# Navigations a person made on this site, or with no site at all (typed, bookmarked, opened
# from another application): `Sec-Fetch-Site`, which a page cannot forge.
DIRECT_LINK_SITES = frozenset({"none", "same-origin", "same-site"})


def direct_link_trusted(request: HttpRequest) -> bool:
    """Whether a direct link's identity (`identity`, `identityHash`) may be taken: not when
    another site sent the browser here. A hostile page could otherwise send a victim's
    browser to a link with the attacker's own valid hash, switch the victim's widget to the
    attacker's identity and drop the victim's stored state (login CSRF). Such a link opens
    the chat with the identity the browser already had. Browsers without Fetch Metadata send
    no header and are let through, as before."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is None or site in DIRECT_LINK_SITES:
        return True
    if request.GET.get("identity"):
        log.info("direct-link identity ignored: the link came from another site (%s)", site)
    return False


def chat_unavailable(request: HttpRequest, lang: str) -> HttpResponse:
    """No enabled bot by that name (or no default bot): a plain page saying so, its input
    disabled, instead of a widget that would only fail to get a token."""
    user = getattr(request, "user", None)
    context = {
        "lang": lang,
        "slug": request.GET.get("bot", ""),
        "hint": settings.DEBUG or bool(user and user.is_staff),
    }
    with translation.override(lang):
        return render(request, "webclient/unavailable.html", context, status=404)


def embed_refused_page(request: HttpRequest, refused: EmbedRefusal, lang: str) -> HttpResponseBase:
    """What the embed's panel shows instead of the chat when the page may not show it: the
    reason for the site owner (relay in DEBUG, or the snippet's `data-debug="on"`), a
    neutral line for visitors; the reason always goes to the page's console. Nothing in it
    acts or is secret, so any page may frame it (a chat page refused by frame-ancestors
    would show only the browser's broken-frame icon)."""
    owner = settings.DEBUG or request.GET.get("debug") == "1"
    context = {"refused": refused, "owner": owner, "lang": lang}
    with translation.override(lang):
        response = render(request, "webclient/refused.html", context)
    return framable_by(request, response, ["*"])
