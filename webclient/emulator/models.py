"""The emulated platform's own configuration: one row per webhook channel of a bot.

The emulator keeps its own copy of the credentials, as the real platform does, so it never
reads the relay's tables.
"""

from __future__ import annotations

from django.db import models

from webclient.fields import EncryptedTextField


class EmulatedWebhook(models.Model):
    bot_id = models.CharField(max_length=64, help_text="st-…")
    instance_id = models.CharField(
        max_length=64, blank=True, help_text="ivrInst-…; blank for the bot's first channel."
    )
    bot_name = models.CharField(max_length=100)
    client_id = models.CharField(max_length=64)
    client_secret = EncryptedTextField()
    version = models.PositiveSmallIntegerField(choices=[(1, "V1"), (2, "V2")], default=2)
    is_async = models.BooleanField(default=False)
    polling = models.BooleanField(
        default=True, help_text="V2 sync: answer slow work with a pollId."
    )
    post_url = models.CharField(
        max_length=500,
        blank=True,
        help_text="Async POST_URL; a path starting with / is joined to SITE_ROOT at run time.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bot_id", "instance_id"], name="one_webhook_per_instance"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.bot_name} ({self.bot_id}{'/' + self.instance_id if self.instance_id else ''})"
        )
