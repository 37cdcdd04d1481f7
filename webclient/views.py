"""Pages: the chat page (the widget, full window; embed.js frames it)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.views.decorators.csrf import ensure_csrf_cookie

from webclient import i18n, selectors, theming
from webclient.security.cors import embedding_origins


def session_key(request: HttpRequest) -> str:
    """An opaque per-user key, so the widget keeps a logged-in user's state apart from any
    other user's on a shared browser (the identity itself is the server's to decide)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    return salted_hmac("webclient.widget-session", str(user.pk)).hexdigest()[:24]


@ensure_csrf_cookie
def chat_page(request: HttpRequest) -> HttpResponse:
    """The widget. Direct links may vouch for a user with `identity` and `identityHash`
    (verified bots); embedded (`embed=1`), the widget waits for them from embed.js by
    postMessage instead, so they never appear in a URL. The CSRF cookie lets a logged-in
    session vouch too."""
    bot = selectors.bot_find(slug=request.GET.get("bot"))
    embedded = request.GET.get("embed") == "1"
    lang = i18n.choose_language(request)
    context = {
        "bot": bot.slug if bot else request.GET.get("bot", ""),
        "theme": theming.theme_of(bot),
        "theme_slug": bot.slug if bot else "",
        "theme_version": int(bot.updated_at.timestamp()) if bot else 0,
        "embedded": embedded,
        "identity": "" if embedded else request.GET.get("identity", ""),
        "identity_hash": "" if embedded else request.GET.get("identityHash", ""),
        "parent_origins": " ".join(embedding_origins(bot)),
        "session_key": session_key(request),
        "lang": lang,
        "attach_types": ",".join(settings.ATTACHMENT_TYPES),
    }
    with translation.override(lang):
        return render(request, "webclient/chat.html", context)
