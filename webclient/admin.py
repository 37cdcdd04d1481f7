"""Django admin: bots (secrets never shown in clear), conversations and their transcripts.

Every admin action on a bot is audited twice: Django's LogEntry (who, when, which fields;
the change message names fields, never values) and the `kore_chat.audit` logger.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils import timezone

from webclient import (
    admin_callbacks,  # noqa: F401  (callbacks that could not be routed)
    admin_conversations,  # noqa: F401  (conversations and messages)
    fields,
    sts,
)
from webclient.admin_bots import BotTools
from webclient.bot_origins import normalise
from webclient.kore import tokens
from webclient.models import Bot

audit = logging.getLogger("kore_chat.audit")

SECRET_FIELDS = ("client_secret", "callback_secret", "identity_secret", "jwt_private_key")
# What an upstream token is made from (webclient/kore/tokens.py).
UPSTREAM_TOKEN_FIELDS = (
    "client_id",
    "client_secret",
    "jwt_algorithm",
    "jwt_private_key",
    "jwe_enabled",
    "jwe_public_key",
    "jwe_alg",
    "jwe_enc",
)
# The callback secret is a path segment of the POST_URL: URL-safe, and long enough that
# guessing it is hopeless.
CALLBACK_SECRET = re.compile(r"[A-Za-z0-9_-]{16,}")
TRUST_BROWSER_WARNING = (
    "trusts the browser's identity: any page can ask for a token in any user's name and read "
    "that user's conversation. Use it only for Kore SDK compatibility or demos."
)


# A secret typed into a form that another field made invalid comes back, encrypted, in a
# hidden field, so the operator need not type it again; the page never holds it in clear.
ENTERED = "{}_entered"
ENTERED_MAX_AGE = 3600


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
            "jwt_algorithm",
            "jwt_private_key",
            "jwe_enabled",
            "jwe_public_key",
            "jwe_alg",
            "jwe_enc",
            "preferred_channel",
            "send_v1_events",
            "anonymous_users_anonymous",
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
    client_secret_entered = forms.CharField(required=False, widget=forms.HiddenInput)
    callback_secret_entered = forms.CharField(required=False, widget=forms.HiddenInput)
    identity_secret_entered = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stored_client_secret = self.instance.client_secret if self.instance.pk else ""
        if self.is_bound:
            self._carry_entered_secrets()
        for name in SECRET_FIELDS:
            field = self.fields[name]
            if self.instance.pk:
                field.required = False
                stored = bool(getattr(self.instance, name))
                field.help_text = (
                    "A value is stored; leave empty to keep it. " if stored else ""
                ) + str(field.help_text or "")
            elif self.is_bound and self.data.get(self.add_prefix(name)):
                field.help_text = "Entered; leave empty to keep it. " + str(field.help_text)
        if not self.instance.pk:
            # As `create_bot` does: a sync bot never uses it, an async bot's POST_URL does.
            callback = self.fields["callback_secret"]
            callback.required = False
            callback.help_text = "Leave empty to have one generated. " + str(callback.help_text)

    def _carry_entered_secrets(self) -> None:
        """A secret left empty takes the value entered before (the hidden field); each
        entered secret goes back to the page encrypted, should the form be shown again."""
        data = self.data.copy() if isinstance(self.data, QueryDict) else dict(self.data)
        for name in SECRET_FIELDS:
            key, entered_key = self.add_prefix(name), self.add_prefix(ENTERED.format(name))
            if not data.get(key):
                earlier = fields.decrypt_fresh(data.get(entered_key, ""), ENTERED_MAX_AGE)
                if earlier and earlier.startswith(f"{name}:"):
                    data[key] = earlier.removeprefix(f"{name}:")
            data[entered_key] = fields.encrypt(f"{name}:{data[key]}") if data.get(key) else ""
        self.data = data

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
        self._check_upstream_tokens(cleaned)
        callback_secret = cleaned.get("callback_secret")
        if not callback_secret and not self.instance.pk:
            cleaned["callback_secret"] = secrets.token_urlsafe(24)
        elif callback_secret and not CALLBACK_SECRET.fullmatch(callback_secret):
            self.add_error(
                "callback_secret",
                "At least 16 characters, only letters, digits, '-' and '_' (it is part of a URL).",
            )
        return cleaned

    def _check_upstream_tokens(self, cleaned: dict[str, Any]) -> None:
        """Make one upstream token with these settings, as every call will (the RSA key and
        Kore's JWK must be usable), and say which setting is wrong if none can be made."""
        names = UPSTREAM_TOKEN_FIELDS
        if any(name in self.errors for name in names):
            return
        trial = Bot(**{name: cleaned.get(name) or "" for name in names})
        trial.jwe_enabled = bool(cleaned.get("jwe_enabled"))
        if trial.jwt_algorithm in tokens.RSA_ALGORITHMS and not trial.jwt_private_key.strip():
            self.add_error("jwt_private_key", f"{trial.jwt_algorithm} signs with your RSA key.")
            return
        if trial.jwe_enabled and not trial.jwe_public_key.strip():
            self.add_error("jwe_public_key", "JWE encrypts to Kore's public key: paste it.")
            return
        if not trial.client_secret and trial.jwt_algorithm in tokens.HMAC_ALGORITHMS:
            return  # the client secret's own check speaks
        try:
            tokens.upstream_token(trial, tokens.CHECK_IDENTITY)
        except tokens.TokenSettingsError as exc:
            field = "jwe_public_key" if "JWE" in str(exc) else "jwt_private_key"
            if trial.jwt_algorithm in tokens.HMAC_ALGORITHMS and field == "jwt_private_key":
                field = "client_secret"
            self.add_error(field, str(exc))

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
    list_display = ("slug", "name", "api_version", "mode_shown", "identity_security", "enabled")
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

    @admin.display(description="Mode", ordering="mode")
    def mode_shown(self, bot: Bot) -> str:
        """The mode as this bot's API version has it (V1 has no polling)."""
        if bot.mode == Bot.Mode.ASYNC:
            return "Asynchronous (POSTed to our callback)"
        if bot.api_version == Bot.ApiVersion.V1:
            return "Synchronous (the answer in the response)"
        return "Synchronous (with polling)"

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
