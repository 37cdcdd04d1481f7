from __future__ import annotations

from django.urls import path

from webclient import attachments, i18n, theming, views
from webclient.api import callbacks
from webclient.api import views as api
from webclient.api.attachments import AttachmentsView
from webclient.api.schema import SchemaView
from webclient.gallery import gallery

urlpatterns = [
    path("", views.chat_page, name="chat"),
    path("theme/<slug:slug>.css", theming.theme_stylesheet, name="theme"),
    path("jsi18n/<str:lang>.js", i18n.js_catalog, name="js-catalog"),
    path("api/v1/sts", api.StsView.as_view(), name="sts"),
    path("api/users/sts", api.StsView.as_view(), name="sts-sdkapp"),
    path("api/v1/sts/refresh", api.StsRefreshView.as_view(), name="sts-refresh"),
    path("api/v1/messages", api.MessagesView.as_view(), name="messages"),
    path("api/v1/attachments", AttachmentsView.as_view(), name="attachments"),
    path("attachments/<str:signed>", attachments.attachment_file, name="attachment"),
    path("hooks/kore/<slug:slug>/<str:secret>/", callbacks.kore_callback, name="kore-callback"),
    path("gallery/", gallery, name="gallery"),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("healthz", api.HealthView.as_view(), name="healthz"),
    path("readyz", api.ReadyView.as_view(), name="readyz"),
]
