"""The bot page's operator tools: the URLs to give Kore, and a connection check.

- POST_URL (our callback, `SITE_ROOT/hooks/kore/<slug>/<callback secret>/`) carries the
  callback secret, so the page shows it masked; "Reveal" and "Copy" fetch it with a POST
  (CSRF-checked, staff only), and each reveal is audited like a bot change.
- The webhook URL (what the relay calls) is not secret and is shown in full.
- "Check connection", at the top of the page with the last check's result, makes one
  harmless authenticated call upstream (webclient/kore/check.py) and shows what the
  platform answered.

The buttons are wired by static/webclient/admin-bot.js (the CSP allows no inline script).
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from webclient.kore.check import connection_check
from webclient.kore.client import hook_url
from webclient.models import Bot

audit = logging.getLogger("kore_chat.audit")
MASK = "••••••••"


def post_url(bot: Bot) -> str:
    """The full callback URL Kore must be given (it contains the callback secret)."""
    path_ = reverse("kore-callback", args=[bot.slug, bot.callback_secret])
    return f"{settings.SITE_ROOT}{path_}"


def post_url_masked(bot: Bot) -> str:
    path_ = reverse("kore-callback", args=[bot.slug, "SECRET"]).replace("SECRET", MASK)
    return f"{settings.SITE_ROOT}{path_}"


class BotTools(admin.ModelAdmin):
    """The base of BotAdmin (webclient/admin.py)."""

    change_form_template = "admin/webclient/bot/change_form.html"
    readonly_fields = ("post_url", "webhook_url")

    @admin.display(description="POST_URL (give it to Kore)")
    def post_url(self, bot: Bot) -> str:
        if not bot.pk:
            return "Shown once the bot is saved."
        tools = reverse("admin:webclient_bot_post_url", args=[bot.pk])
        return format_html(
            '<span class="kc-admin-url"><code data-kc-url>{}</code>'
            '<button type="button" class="button" data-kc-reveal="{}">Reveal</button>'
            '<button type="button" class="button" data-kc-copy>Copy</button></span>',
            post_url_masked(bot),
            tools,
        )

    @admin.display(description="Webhook URL (what the relay calls)")
    def webhook_url(self, bot: Bot) -> str:
        if not bot.pk:
            return "Shown once the bot is saved."
        # "Check connection" sits at the top of the page, with the last result.
        return format_html(
            '<span class="kc-admin-url"><code data-kc-url>{}</code>'
            '<button type="button" class="button" data-kc-copy>Copy</button></span>',
            hook_url(bot),
        )

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        own = [
            path(
                "<int:pk>/post-url/",
                site.admin_view(require_POST(self.post_url_view)),
                name="webclient_bot_post_url",
            ),
            path(
                "<int:pk>/check/",
                site.admin_view(require_POST(self.check_view)),
                name="webclient_bot_check",
            ),
        ]
        return own + super().get_urls()

    def _bot(self, request: HttpRequest, pk: int) -> Bot:
        bot = get_object_or_404(Bot, pk=pk)
        if not self.has_view_permission(request, bot):
            raise PermissionDenied
        return bot

    def post_url_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        bot = self._bot(request, pk)
        audit.info(
            "bot %s: POST_URL revealed to %s (user id %s)",
            bot.slug,
            request.user.get_username(),
            request.user.pk,
        )
        return JsonResponse({"url": post_url(bot)}, headers={"Cache-Control": "no-store"})

    def check_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        result = connection_check(self._bot(request, pk))
        return JsonResponse(asdict(result))

    @admin.action(description="Check the connection to the Kore platform")
    def check_connection(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        for bot in queryset.order_by("slug"):
            result = connection_check(bot)
            self.message_user(
                request,
                f"{bot.slug}: {result.summary} ({result.method}, {result.elapsed_ms} ms)",
                messages.SUCCESS if result.ok else messages.ERROR,
            )
