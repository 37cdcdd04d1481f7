from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class WebclientConfig(AppConfig):
    name = "webclient"
    verbose_name = "Kore chat"

    def ready(self) -> None:
        if settings.KORE_DISPATCHER:
            # Imported here, as Django wants: the relay needs the models loaded.
            from webclient import services
            from webclient.kore.dispatcher import wake

            services.on_message_accepted(wake)
