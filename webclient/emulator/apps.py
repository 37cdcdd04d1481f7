from __future__ import annotations

from django.apps import AppConfig


class EmulatorConfig(AppConfig):
    name = "webclient.emulator"
    label = "emulator"
    verbose_name = "Emulated Kore platform"
