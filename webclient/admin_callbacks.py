"""Admin for callbacks the relay could not route: read-only, with the body the platform sent.

A body lands here when it names no user and no single conversation of its bot awaits an
asynchronous answer, or names a user with no conversation (webclient/kore/callbacks.py).
The operator reads it, and deletes it once dealt with.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from webclient.models import UndeliverableCallback


@admin.register(UndeliverableCallback)
class UndeliverableCallbackAdmin(admin.ModelAdmin):
    list_display = ("received_at", "bot", "reason", "recipient", "summary")
    list_filter = ("bot", "reason")
    fields = ("received_at", "bot", "reason", "recipient", "body_shown")
    readonly_fields = fields
    date_hierarchy = "received_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: UndeliverableCallback | None = None
    ) -> bool:
        return False

    @admin.display(description="body")
    def body_shown(self, callback: UndeliverableCallback) -> str:
        return format_html("<pre>{}</pre>", json.dumps(callback.body, indent=2, ensure_ascii=False))

    @admin.display(description="what it says")
    def summary(self, callback: UndeliverableCallback) -> str:
        text = json.dumps(callback.body, ensure_ascii=False)
        return text if len(text) <= 120 else text[:119] + "…"
