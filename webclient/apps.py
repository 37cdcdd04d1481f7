from __future__ import annotations

from django.apps import AppConfig


class WebclientConfig(AppConfig):
    name = "webclient"
    verbose_name = "Kore chat"

    def ready(self) -> None:
        from corsheaders.signals import check_request_enabled
        from django.db.models.signals import post_delete

        from webclient import attachments, bot_origins
        from webclient.models import Attachment

        # However an attachment goes (its message, its conversation, a purge, the sweep),
        # its stored file goes too.
        post_delete.connect(
            attachments.attachment_file_delete, sender=Attachment, dispatch_uid="attachment-file"
        )
        # django-cors-headers asks whether an Origin may call the widget API: some bot allows it.
        check_request_enabled.connect(bot_origins.cors_request_enabled, dispatch_uid="bot-origins")
        # Imported here, as Django wants: the relay needs the models loaded. The wake-up
        # serves the conversation in this process (KORE_DISPATCHER) or tells the relay
        # processes (`manage.py relay`), whichever runs the dispatcher.
        from webclient import services
        from webclient.kore.dispatcher import wake

        services.on_message_accepted(wake)
