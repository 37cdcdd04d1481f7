"""Django admin: bots (secrets never shown in clear), conversations and their transcripts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from webclient.models import Bot, Conversation, Message

SECRET_FIELDS = ("client_secret", "callback_secret", "identity_secret")


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
        ]
        widgets = {name: SecretInput() for name in SECRET_FIELDS}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            field = self.fields[name]
            if self.instance.pk:
                field.required = False
                stored = bool(getattr(self.instance, name))
                field.help_text = (
                    "A value is stored; leave empty to keep it. " if stored else ""
                ) + str(field.help_text or "")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk:
            for name in SECRET_FIELDS:
                if not cleaned.get(name):
                    cleaned[name] = getattr(self.instance, name)
        return cleaned


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    form = BotForm
    list_display = ("slug", "name", "api_version", "mode", "identity_mode", "enabled")
    list_filter = ("enabled", "api_version", "mode", "identity_mode")
    search_fields = ("slug", "name", "bot_id")


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("id", "created_at", "role", "kind", "text", "status", "failure_reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("identity", "bot", "created_at", "last_activity_at", "pending")
    list_filter = ("bot",)
    search_fields = ("identity",)
    readonly_fields = (
        "bot",
        "identity",
        "created_at",
        "last_activity_at",
        "session_started",
        "pending",
        "task_state",
    )
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation", "role", "kind", "text", "status", "created_at")
    list_filter = ("role", "kind", "status")
    search_fields = ("text", "client_message_id", "platform_message_id")
    readonly_fields = [f.name for f in Message._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
