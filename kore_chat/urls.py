from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from webclient.metrics import metrics_view

handler404 = "webclient.api.errors.not_found"
handler500 = "webclient.api.errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("emulator/", include("webclient.emulator.urls")),
    path("", include("webclient.urls")),
]
