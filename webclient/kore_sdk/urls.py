"""The Kore-compatible routes, mounted at /kore/ (webclient/kore_sdk/__init__.py)."""

from __future__ import annotations

from django.urls import URLPattern, path

from webclient.kore_sdk import views

urlpatterns: list[URLPattern] = [
    path("chatbot/hooks/<str:bot_id>", views.SendV1View.as_view(), name="kore-sdk-v1"),
    path(
        "chatbot/hooks/<str:bot_id>/hookInstance/<str:instance_id>",
        views.SendV1View.as_view(),
        name="kore-sdk-v1-instance",
    ),
    path("chatbot/v2/webhook/<str:bot_id>", views.SendView.as_view(), name="kore-sdk-v2"),
    path(
        "chatbot/v2/webhook/<str:bot_id>/hookInstance/<str:instance_id>",
        views.SendView.as_view(),
        name="kore-sdk-v2-instance",
    ),
    path(
        "chatbot/v2/webhook/<str:bot_id>/poll/<str:poll_id>",
        views.PollView.as_view(),
        name="kore-sdk-poll",
    ),
    path("api/botmeta/<str:bot_id>", views.BotMetaView.as_view(), name="kore-sdk-botmeta"),
    path(
        "api/chathistory/<str:bot_id>/<str:channel_type>",
        views.HistoryView.as_view(),
        name="kore-sdk-chathistory",
    ),
    path("forms/<str:signed>", views.FormPageView.as_view(), name="kore-sdk-form"),
]
