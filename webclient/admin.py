"""Django admin: bots (secrets never shown in clear), conversations and their transcripts.

Every admin action on a bot is audited twice: Django's LogEntry (who, when, which fields;
the change message names fields, never values) and the `kore_chat.audit` logger.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from webclient import (
    admin_conversations,  # noqa: F401  (conversations and messages)
    sts,
)
from webclient.admin_bots import BotTools
from webclient.models import Bot
from webclient.security.cors import normalise

audit = logging.getLogger("kore_chat.audit")

SECRET_FIELDS = ("client_secret", "callback_secret", "identity_secret")
# The callback secret is a path segment of the POST_URL: URL-safe, and long enough that
# guessing it is hopeless.
CALLBACK_SECRET = re.compile(r"[A-Za-z0-9_-]{16,}")
TRUST_BROWSER_WARNING = (
    "trusts the browser's identity: any page can ask for a token in any user's name and read "
    "that user's conversation. Use it only for Kore SDK compatibility or demos."
)


class SecretInput(forms.PasswordInput):
    """Never renders the stored value; an empty submission keeps it."""

    def __init__(self) -> None:
        super().__init__(render_value=False, attrs={"autocomplete": "new-password"})


class BotForm(forms.ModelForm):
    class Meta:
        model = Bot
        fields = [
            "slug",
            "name",
            "enabled",
            "upstream_url",
            "bot_id",
            "client_id",
            "client_secret",
            "api_version",
            "mode",
            "hook_instance_id",
            "callback_secret",
            "identity_mode",
            "identity_secret",
            "allowed_origins",
            "custom_data",
            "meta_tags",
            "merge_identity",
            "page_context_keys",
            "theme_title",
            "theme_color",
            "theme_avatar_url",
            "theme_launcher_position",
            "theme_welcome_text",
            "theme_color_scheme",
        ]
        widgets = {name: SecretInput() for name in SECRET_FIELDS}

    upstream_url = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text=Bot._meta.get_field("upstream_url").help_text,
    )
    theme_avatar_url = forms.URLField(
        label="Avatar URL",
        required=False,
        assume_scheme="https",
        help_text=Bot._meta.get_field("theme_avatar_url").help_text,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stored_client_secret = self.instance.client_secret if self.instance.pk else ""
        for name in SECRET_FIELDS:
            field = self.fields[name]
            if self.instance.pk:
                field.required = False
                stored = bool(getattr(self.instance, name))
                field.help_text = (
                    "A value is stored; leave empty to keep it. " if stored else ""
                ) + str(field.help_text or "")

    def _kept(self, name: str) -> bool:
        """An existing bot's secret submitted empty: the stored value stays."""
        return bool(self.instance.pk) and not self.data.get(self.add_prefix(name))

    @property
    def changed_data(self) -> list[str]:
        # A kept secret differs from its (never rendered) initial value, but is not a change.
        return [name for name in super().changed_data if not self._kept(name)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk:
            for name in SECRET_FIELDS:
                if not cleaned.get(name):
                    cleaned[name] = getattr(self.instance, name)
        client_secret = cleaned.get("client_secret")
        if client_secret and sts.key_too_short(client_secret):
            self.add_error(
                "client_secret",
                f"At least {sts.MIN_KEY_BYTES} bytes (256 bits): tokens are HS256-signed "
                "with it, and a shorter key is refused.",
            )
        identity_secret = cleaned.get("identity_secret")
        if identity_secret and sts.key_too_short(identity_secret):
            self.add_error("identity_secret", f"At least {sts.MIN_KEY_BYTES} bytes (256 bits).")
        callback_secret = cleaned.get("callback_secret")
        if callback_secret and not CALLBACK_SECRET.fullmatch(callback_secret):
            self.add_error(
                "callback_secret",
                "At least 16 characters, only letters, digits, '-' and '_' (it is part of a URL).",
            )
        return cleaned

    def save(self, commit: bool = True) -> Bot:
        bot: Bot = super().save(commit=False)
        if self._stored_client_secret and bot.client_secret != self._stored_client_secret:
            # A rotation: tokens signed with the old secret stay valid for one lifetime, so
            # conversations go on (webclient/sts.py). Rotating again revokes the tokens
            # refreshed from ones the secret before the current one signed.
            if bot.client_secret_rotated_at is not None:
                bot.tokens_valid_after = bot.client_secret_rotated_at
            bot.previous_client_secret = self._stored_client_secret
            bot.client_secret_rotated_at = timezone.now()
        if commit:
            bot.save()
            self.save_m2m()
        return bot

    def clean_allowed_origins(self) -> str:
        text: str = self.cleaned_data.get("allowed_origins", "")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        wrong = [line for line in lines if not normalise(line)]
        if wrong:
            raise forms.ValidationError(
                f"Not an origin (scheme://host[:port], no path): {', '.join(wrong)}"
            )
        return "\n".join(normalise(line) for line in lines)


def _changed_fields(message: Any) -> list[str]:
    """The field names in a LogEntry change message (a list of {"changed": {"fields"}})."""
    if not isinstance(message, list):
        return []
    return [
        str(field)
        for part in message
        if isinstance(part, dict)
        for field in part.get("changed", {}).get("fields", [])
    ]


@admin.register(Bot)
class BotAdmin(BotTools):
    form = BotForm
    list_display = ("slug", "name", "api_version", "mode", "identity_security", "enabled")
    list_filter = ("enabled", "api_version", "mode", "identity_mode")
    search_fields = ("slug", "name", "bot_id")
    actions = ["end_rotation_grace", "check_connection"]

    @admin.action(description="Stop accepting tokens signed with the previous client secret")
    def end_rotation_grace(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        # For a leaked secret: its tokens stop working now, not one token lifetime later,
        # and so does every token refreshed from one (marked with the rotation's time;
        # update() reads the old client_secret_rotated_at).
        ended = queryset.exclude(previous_client_secret="").update(
            previous_client_secret="",
            client_secret_rotated_at=None,
            tokens_valid_after=Coalesce("client_secret_rotated_at", "tokens_valid_after"),
        )
        audit.info("user %s ended the secret rotation grace of %d bot(s)", request.user, ended)
        self.message_user(request, f"{ended} bot(s) now accept only their current client secret.")

    @admin.display(description="Identity", ordering="identity_mode")
    def identity_security(self, bot: Bot) -> str:
        if bot.identity_mode == Bot.IdentityMode.TRUST_BROWSER:
            return "⚠ Insecure: trusts the browser"
        return str(Bot.IdentityMode(bot.identity_mode).label.split(":")[0])

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        trusting = list(
            Bot.objects.filter(identity_mode=Bot.IdentityMode.TRUST_BROWSER).values_list(
                "slug", flat=True
            )
        )
        if trusting and request.method == "GET":
            messages.warning(request, f"Insecure: {', '.join(trusting)} {TRUST_BROWSER_WARNING}")
        return super().changelist_view(request, extra_context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        bot = self.get_object(request, object_id)
        if (
            bot is not None
            and request.method == "GET"
            and bot.identity_mode == Bot.IdentityMode.TRUST_BROWSER
        ):
            messages.warning(request, f"Insecure: this bot {TRUST_BROWSER_WARNING}")
        return super().change_view(request, object_id, form_url, extra_context)

    def _audit(self, request: HttpRequest, action: str, bots: Iterable[Bot], fields: Any) -> None:
        user = request.user
        for bot in bots:
            audit.info(
                "bot %s %s by %s (user id %s); fields: %s",
                bot.slug,
                action,
                user.get_username() if user.is_authenticated else "anonymous",
                user.pk,
                ", ".join(_changed_fields(fields)) or "-",
            )

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_addition(request, obj, message)
        self._audit(request, "added", [obj], message)
        return entry

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_change(request, obj, message)
        self._audit(request, "changed", [obj], message)
        return entry

    def log_deletions(self, request: HttpRequest, queryset: QuerySet[Bot] | Any) -> Any:
        entries = super().log_deletions(request, queryset)
        self._audit(request, "deleted", list(queryset), None)
        return entries
