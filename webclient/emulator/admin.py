"""The emulated platform's channel pages in the admin ("Emulated Kore platform"), as Kore's
channel page shows and configures a webhook channel.

"Add" asks only for the name, the version and the mode (or a further hook instance of an
existing bot); the bot id, client id and client secret are generated, as Kore does. The
change page shows them, the client secret and, under it, the public JWK when JWE is on, with
Copy buttons: this is a test double's page, and the operator copies these into the relay's
bot exactly as from Kore's. The admin exists only when the emulator app is installed.
The Copy buttons are wired by static/webclient/admin-bot.js (the CSP allows no inline script).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from webclient.emulator import provisioning
from webclient.emulator.channels import public_jwk_json
from webclient.emulator.models import EmulatedWebhook


def mode_field() -> forms.TypedChoiceField:
    """The channel's is_async, shown as Kore's choice between two modes."""
    return forms.TypedChoiceField(
        label="Mode",
        choices=[(False, "Synchronous"), (True, "Asynchronous (answers POSTed to the POST_URL)")],
        coerce=lambda value: value in (True, "True"),
        widget=forms.RadioSelect,
        help_text="Prefer V2 synchronous with polling: nothing has to reach the relay from here.",
    )


LABELS = {
    "bot_name": "Bot name",
    "version": "Webhook version",
    "polling": "Polling (V2 synchronous)",
    "post_url": "POST_URL",
    "jwt_algorithm": "JWT signing algorithm",
    "jwt_public_key": "Customer's public key (RS256/RS512)",
    "enforce_jti": "Enforce JTI",
    "jwe_enabled": "JWE",
    "callback_names_user": "Async callbacks name the user (V2)",
    "v1_ack_body": "V1 async acknowledgement",
    "form_placement": "Digital Forms (V2)",
    "sdk_form_links": "SDK channel form links",
}
HELP = {
    "polling": "On: slow answers come with a pollId the relay polls. Off: the request waits "
    "(up to the sync time limit).",
    "post_url": "Async only: where the platform POSTs the bot's answers. Paste the POST_URL "
    "the relay's bot page shows (its Copy button). A path starting with / is joined to "
    "SITE_ROOT.",
    "jwt_algorithm": "HS256/HS512: the relay signs with the client secret. RS256/RS512: with "
    "its own private key; give its public key below.",
    "jwt_public_key": "RS256/RS512 only: the PEM public key (-----BEGIN PUBLIC KEY-----) of "
    "the key the relay signs with.",
    "enforce_jti": '"Enforce JTI": refuse tokens without a jti; a token with a jti may live '
    "at most one hour and is refused when replayed.",
    "jwe_enabled": "Accept only tokens encrypted to this channel's public key (shown under "
    "the client secret once saved; give it to the relay).",
}


class ChannelForm(forms.ModelForm):
    """The change page: the channel's mode and every switch."""

    is_async = mode_field()
    # Named as Kore names them (the model's choices would read "Hs256").
    jwt_algorithm = forms.ChoiceField(
        label=LABELS["jwt_algorithm"],
        choices=[(value, value) for value in EmulatedWebhook.JwtAlgorithm.values],
        help_text=HELP["jwt_algorithm"],
    )

    class Meta:
        model = EmulatedWebhook
        fields = [
            "bot_name",
            "version",
            "is_async",
            "polling",
            "post_url",
            "jwt_algorithm",
            "jwt_public_key",
            "enforce_jti",
            "jwe_enabled",
            "callback_names_user",
            "v1_ack_body",
            "form_placement",
            "sdk_form_links",
        ]
        labels = LABELS
        help_texts = HELP
        widgets = {
            "jwt_public_key": forms.Textarea(attrs={"rows": 4, "cols": 64}),
            "version": forms.RadioSelect,
        }

    def clean_post_url(self) -> str:
        url: str = self.cleaned_data.get("post_url", "")
        try:
            return provisioning.check_post_url(url) if url else ""
        except provisioning.ChannelError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        algorithm = cleaned.get("jwt_algorithm")
        if algorithm:
            try:
                cleaned["jwt_public_key"] = provisioning.check_security(
                    algorithm, cleaned.get("jwt_public_key", "")
                )
            except provisioning.ChannelError as exc:
                self.add_error("jwt_public_key", str(exc))
        return cleaned


class ChannelAddForm(forms.ModelForm):
    """ "Create channel": the name, version and mode; the credentials are generated."""

    is_async = mode_field()
    instance_of = forms.ChoiceField(
        label="Further hook instance of",
        required=False,
        help_text="Leave empty for a new bot (new bot id). Pick a bot to add a further hook "
        "instance of it: same bot id, its own instance id, client id and secret.",
    )

    class Meta:
        model = EmulatedWebhook
        fields = ["bot_name", "version", "is_async", "polling"]
        labels = LABELS
        help_texts = HELP
        widgets = {"version": forms.RadioSelect}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bots = EmulatedWebhook.objects.filter(instance_id="").order_by("bot_name")
        field = self.fields["instance_of"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "- (a new bot)")] + [
            (bot.bot_id, f"{bot.bot_name} ({bot.bot_id})") for bot in bots
        ]


def _copyable(value: str, *, block: bool = False) -> SafeString:
    if block:
        return format_html(
            '<div class="kc-admin-url"><pre data-kc-url>{}</pre>'
            '<button type="button" class="button" data-kc-copy>Copy</button></div>',
            value,
        )
    return format_html(
        '<span class="kc-admin-url"><code data-kc-url>{}</code>'
        '<button type="button" class="button" data-kc-copy>Copy</button></span>',
        value,
    )


@admin.register(EmulatedWebhook)
class EmulatedWebhookAdmin(admin.ModelAdmin):
    form = ChannelForm
    add_form = ChannelAddForm
    list_display = ("bot_name", "bot_id", "instance", "version", "mode", "post_url_set")
    list_filter = ("version", "is_async")
    search_fields = ("bot_name", "bot_id", "client_id", "instance_id")
    ordering = ("bot_name", "bot_id", "instance_id")
    add_fieldsets = (
        (None, {"fields": ("bot_name", "version", "is_async", "polling", "instance_of")}),
    )
    fieldsets = (
        (
            "Channel (copy these into the relay's bot)",
            {
                "fields": (
                    "bot_name",
                    "bot_id_shown",
                    "instance",
                    "client_id_shown",
                    "client_secret_shown",
                    "public_jwk_shown",
                    "webhook_url",
                    "upstream_url",
                ),
            },
        ),
        ("Mode", {"fields": ("version", "is_async", "polling", "post_url")}),
        (
            "App security",
            {"fields": ("jwt_algorithm", "jwt_public_key", "enforce_jti", "jwe_enabled")},
        ),
        (
            "Where Kore's docs leave the shape open",
            {
                "fields": (
                    "callback_names_user",
                    "v1_ack_body",
                    "form_placement",
                    "sdk_form_links",
                ),
                "description": "Kore's documented shape is the default; the others are the "
                "plausible variants a platform may send (docs/emulator.md).",
            },
        ),
    )
    change_readonly = (
        "bot_id_shown",
        "instance",
        "client_id_shown",
        "client_secret_shown",
        "public_jwk_shown",
        "webhook_url",
        "upstream_url",
    )

    def get_fieldsets(self, request: HttpRequest, obj: EmulatedWebhook | None = None) -> Any:
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_readonly_fields(
        self, request: HttpRequest, obj: EmulatedWebhook | None = None
    ) -> tuple[str, ...]:
        return () if obj is None else self.change_readonly

    def get_form(
        self,
        request: HttpRequest,
        obj: EmulatedWebhook | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> Any:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change, **kwargs)

    def save_model(
        self, request: HttpRequest, obj: EmulatedWebhook, form: forms.ModelForm, change: bool
    ) -> None:
        if not change:
            provisioning.credentials_issue(obj, form.cleaned_data.get("instance_of", ""))
        provisioning.channel_save(obj)

    def response_add(
        self, request: HttpRequest, obj: EmulatedWebhook, post_url_continue: str | None = None
    ) -> HttpResponse:
        # A new channel's page is where its credentials are: go there, as Kore does.
        response = super().response_add(request, obj, post_url_continue)
        if "_addanother" in request.POST or IS_POPUP_VAR in request.POST:
            return response
        return HttpResponseRedirect(reverse("admin:emulator_emulatedwebhook_change", args=[obj.pk]))

    @admin.display(description="Hook instance", ordering="instance_id")
    def instance(self, webhook: EmulatedWebhook) -> str:
        return webhook.instance_id or "- (the bot's first channel)"

    @admin.display(description="Mode", ordering="is_async")
    def mode(self, webhook: EmulatedWebhook) -> str:
        return provisioning.mode_label(webhook)

    @admin.display(description="POST_URL set", boolean=True)
    def post_url_set(self, webhook: EmulatedWebhook) -> bool | None:
        # Only an async channel needs one: no icon for the others.
        return bool(webhook.post_url) if webhook.is_async else None

    @admin.display(description="Bot id")
    def bot_id_shown(self, webhook: EmulatedWebhook) -> SafeString:
        return _copyable(webhook.bot_id)

    @admin.display(description="Client id")
    def client_id_shown(self, webhook: EmulatedWebhook) -> SafeString:
        return _copyable(webhook.client_id)

    @admin.display(description="Client secret")
    def client_secret_shown(self, webhook: EmulatedWebhook) -> SafeString:
        return _copyable(webhook.client_secret)

    @admin.display(description="Public key (JWE)")
    def public_jwk_shown(self, webhook: EmulatedWebhook) -> SafeString | str:
        if not webhook.jwe_enabled:
            return "JWE is off."
        return _copyable(public_jwk_json(webhook), block=True)

    @admin.display(description="Webhook URL (what the relay calls)")
    def webhook_url(self, webhook: EmulatedWebhook) -> SafeString:
        return _copyable(provisioning.webhook_url(webhook))

    @admin.display(description="Upstream URL (for a relay on another server)")
    def upstream_url(self, webhook: EmulatedWebhook) -> SafeString:
        return format_html(
            "<code>{}</code> (a relay on this server leaves its upstream URL blank)",
            provisioning.upstream_url(),
        )
