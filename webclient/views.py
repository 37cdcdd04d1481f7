"""Pages: the chat page (the widget, full window)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def chat_page(request: HttpRequest) -> HttpResponse:
    bot = request.GET.get("bot") or settings.DEFAULT_BOT
    return render(request, "webclient/chat.html", {"bot": bot})
