"""Webhook channels as plain values, so background threads never touch the ORM; and the
channel's JWE key pair, as Kore's channel page shows its public half."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from joserfc.jwk import RSAKey

from webclient.emulator.models import EmulatedWebhook

# Kore shows key ids like "k-ffb4hty69-750a-44af-91c1-de0bvcf6a" (sdk-security.md, JWE header).
KID_PREFIX = "k-"
JWE_KEY_BITS = 2048


@dataclass(frozen=True)
class Channel:
    bot_id: str
    instance_id: str
    bot_name: str
    client_id: str
    client_secret: str
    version: int
    is_async: bool
    polling: bool
    post_url: str
    jwt_algorithm: str = "HS256"
    jwt_public_key: str = ""
    enforce_jti: bool = False
    jwe_enabled: bool = False
    jwe_private_key: str = ""
    jwe_kid: str = ""
    callback_names_user: bool = False
    v1_ack_body: str = EmulatedWebhook.AckBody.EMPTY
    form_placement: str = EmulatedWebhook.FormPlacement.TOP
    sdk_form_links: bool = False

    @classmethod
    def from_model(cls, webhook: EmulatedWebhook) -> Channel:
        return cls(
            bot_id=webhook.bot_id,
            instance_id=webhook.instance_id,
            bot_name=webhook.bot_name,
            client_id=webhook.client_id,
            client_secret=webhook.client_secret,
            version=webhook.version,
            is_async=webhook.is_async,
            polling=webhook.polling,
            post_url=absolute_url(webhook.post_url),
            jwt_algorithm=webhook.jwt_algorithm,
            jwt_public_key=webhook.jwt_public_key,
            enforce_jti=webhook.enforce_jti,
            jwe_enabled=webhook.jwe_enabled,
            jwe_private_key=webhook.jwe_private_key,
            jwe_kid=webhook.jwe_kid,
            callback_names_user=webhook.callback_names_user,
            v1_ack_body=webhook.v1_ack_body,
            form_placement=webhook.form_placement,
            sdk_form_links=webhook.sdk_form_links,
        )

    @property
    def channel_type(self) -> str:
        """What the Web SDK calls the channel in history URLs: `ivr` or the instance id."""
        return self.instance_id or "ivr"


def absolute_url(post_url: str) -> str:
    # Relative POST_URLs follow SITE_ROOT so that seeded demo bots work on any host.
    if post_url.startswith("/"):
        return settings.SITE_ROOT.rstrip("/") + post_url
    return post_url


def jwe_keys_ensure(webhook: EmulatedWebhook) -> bool:
    """Give the channel its JWE key pair (the platform's own) if it has none; True when one
    was made. The caller saves the row."""
    if webhook.jwe_private_key:
        return False
    kid = f"{KID_PREFIX}{uuid.uuid4()}"
    key = RSAKey.generate_key(JWE_KEY_BITS, parameters={"kid": kid})
    webhook.jwe_private_key = key.as_pem(private=True).decode()
    webhook.jwe_kid = kid
    return True


def public_jwk(webhook: EmulatedWebhook | Channel) -> dict[str, Any] | None:
    """The JWE public key as Kore shows it under the client secret: a JWK with kid."""
    if not webhook.jwe_private_key:
        return None
    key = RSAKey.import_key(webhook.jwe_private_key)
    public = key.as_dict(private=False)
    return {"kty": public["kty"], "e": public["e"], "n": public["n"], "kid": webhook.jwe_kid}


def public_jwk_json(webhook: EmulatedWebhook | Channel) -> str:
    jwk = public_jwk(webhook)
    return json.dumps(jwk, indent=2) if jwk else ""


async def channel(bot_id: str, instance_id: str) -> Channel | None:
    webhook = await EmulatedWebhook.objects.filter(bot_id=bot_id, instance_id=instance_id).afirst()
    return Channel.from_model(webhook) if webhook else None


async def bot_channels(bot_id: str) -> list[Channel]:
    return [Channel.from_model(w) async for w in EmulatedWebhook.objects.filter(bot_id=bot_id)]
