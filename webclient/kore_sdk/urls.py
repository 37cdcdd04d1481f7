"""The Kore-compatible routes, mounted at /kore/ (webclient/kore_sdk/__init__.py)."""

from __future__ import annotations

from django.urls import URLPattern, path

from webclient.kore_sdk import uploads, views

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
    path(
        "api/attachments/<str:bot_id>/<str:channel_type>/token",
        uploads.FileTokenView.as_view(),
        name="kore-sdk-file-token",
    ),
    path(
        "api/attachments/file/<str:bot_id>/<str:channel_type>",
        uploads.FileUploadView.as_view(),
        name="kore-sdk-file",
    ),
    path("api/1.1/attachment/file", uploads.FileUploadView.as_view(), name="kore-sdk-file-v1"),
    path("forms/<str:signed>", views.FormPageView.as_view(), name="kore-sdk-form"),
]
