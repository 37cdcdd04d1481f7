"""The emulated platform's own configuration: one row per webhook channel of a bot.

The emulator keeps its own copy of the credentials, as the real platform does, so it never
reads the relay's tables.
"""

from __future__ import annotations

from django.db import models

from webclient.fields import EncryptedTextField


class EmulatedWebhook(models.Model):
    """A webhook channel as Kore's channel page configures it, plus the documented variants
    where Kore's docs leave the shape open (docs/emulator.md names each source)."""

    class JwtAlgorithm(models.TextChoices):
        HS256 = "HS256"
        HS512 = "HS512"
        RS256 = "RS256"
        RS512 = "RS512"

    class AckBody(models.TextChoices):
        EMPTY = "empty", "Empty (Kore shows no body)"
        JSON = "json", 'JSON {"status": "ok"}'

    class FormPlacement(models.TextChoices):
        TOP = "top", "Top-level form beside the messages (as Kore documents)"
        DATA = "data", "Inside a data item's val"

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
    jwt_algorithm = models.CharField(
        max_length=5, choices=JwtAlgorithm.choices, default=JwtAlgorithm.HS256
    )
    jwt_public_key = models.TextField(
        blank=True, help_text="RS256/RS512 apps: the customer's PEM public key."
    )
    enforce_jti = models.BooleanField(
        default=False, help_text="Refuse tokens without a jti (replays are always refused)."
    )
    jwe_enabled = models.BooleanField(
        default=False, help_text="Accept only tokens encrypted to this channel's public key."
    )
    jwe_private_key = EncryptedTextField(
        blank=True, help_text="The platform's RSA key pair for JWE (PEM); made when JWE is on."
    )
    jwe_kid = models.CharField(max_length=64, blank=True)
    callback_names_user = models.BooleanField(
        default=False,
        help_text="V2 async: add to/from to POST_URL bodies (Kore's example has neither).",
    )
    v1_ack_body = models.CharField(max_length=5, choices=AckBody.choices, default=AckBody.EMPTY)
    form_placement = models.CharField(
        max_length=4, choices=FormPlacement.choices, default=FormPlacement.TOP
    )
    sdk_form_links = models.BooleanField(
        default=False,
        help_text=(
            'With preferredChannelForResponse "rtm": Digital Forms come as the SDK '
            "channel's formData.formLink template instead of a form definition."
        ),
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
