"""Routes of the emulated Kore platform, mounted at /emulator/ (see docs/emulator.md)."""

from __future__ import annotations

from django.urls import URLPattern, path

from webclient.emulator import control, views

urlpatterns: list[URLPattern] = [
    path("chatbot/hooks/<str:bot_id>", views.v1_webhook, name="emulator-v1"),
    path(
        "chatbot/hooks/<str:bot_id>/hookInstance/<str:instance_id>",
        views.v1_webhook,
        name="emulator-v1-instance",
    ),
    path("chatbot/v2/webhook/<str:bot_id>", views.v2_webhook, name="emulator-v2"),
    path(
        "chatbot/v2/webhook/<str:bot_id>/hookInstance/<str:instance_id>",
        views.v2_webhook,
        name="emulator-v2-instance",
    ),
    path("chatbot/v2/webhook/<str:bot_id>/poll/<str:poll_id>", views.poll, name="emulator-poll"),
    path("api/botmeta/<str:bot_id>", views.bot_meta, name="emulator-botmeta"),
    path(
        "api/chathistory/<str:bot_id>/<str:channel_type>",
        views.chat_history,
        name="emulator-chathistory",
    ),
    path("forms/<str:form_id>", views.hosted_form, name="emulator-hosted-form"),
    path("_control/fail-next", control.fail_next, name="emulator-fail-next"),
    path("_control/received", control.received, name="emulator-received"),
    path("_control/reset", control.reset, name="emulator-reset"),
]
