from __future__ import annotations

from django.apps import AppConfig


class WebclientConfig(AppConfig):
    name = "webclient"
    verbose_name = "Kore chat"
