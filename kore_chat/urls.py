from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from webclient.metrics import metrics_view

handler404 = "webclient.api.errors.not_found"
handler500 = "webclient.api.errors.server_error"

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    # Kore-compatible routes for Kore's own Web SDK (docs/kore-sdk.md).
    path("kore/", include("webclient.kore_sdk.urls")),
]
if settings.KORE_EMULATOR:
    urlpatterns.append(path("emulator/", include("webclient.emulator.urls")))
urlpatterns.append(path("", include("webclient.urls")))
