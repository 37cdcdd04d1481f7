"""Pages: the chat page (the widget, full window; embed.js frames it)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie


@ensure_csrf_cookie
def chat_page(request: HttpRequest) -> HttpResponse:
    """The widget. `identity` and `identityHash` let an embedding site vouch for its user
    (verified bots); the CSRF cookie lets a logged-in session do the same."""
    context = {
        "bot": request.GET.get("bot") or settings.DEFAULT_BOT,
        "identity": request.GET.get("identity", ""),
        "identity_hash": request.GET.get("identityHash", ""),
    }
    return render(request, "webclient/chat.html", context)
