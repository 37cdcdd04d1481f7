"""Creating and configuring webhook channels, as Kore's channel page does, for the
`emulator_channel` command and the emulator's admin.

A new channel gets what Kore hands out: a bot id `st-<uuid>`, an app's client id
`cs-<uuid>` and client secret, and, for a further hook instance of a bot, an instance id
`ivrInst-<uuid>`. `channel_page()` is what the page shows: the credentials to copy into the
relay, the webhook URL the relay calls, the public JWK (under the client secret, when JWE is
on), the mode and the POST_URL.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.urls import reverse

from webclient.emulator.channels import jwe_keys_ensure, public_jwk
from webclient.emulator.models import EmulatedWebhook

# 32 random bytes, as many as the relay's HS256 signing key needs at least.
CLIENT_SECRET_BYTES = 32
RS_ALGORITHMS = frozenset({EmulatedWebhook.JwtAlgorithm.RS256, EmulatedWebhook.JwtAlgorithm.RS512})


class ChannelError(Exception):
    """A channel cannot be created or changed as asked; the message says why."""


def new_bot_id() -> str:
    return f"st-{uuid.uuid4()}"


def new_instance_id() -> str:
    return f"ivrInst-{uuid.uuid4()}"


def new_client_id() -> str:
    return f"cs-{uuid.uuid4()}"


def new_client_secret() -> str:
    return secrets.token_urlsafe(CLIENT_SECRET_BYTES)


def mode_label(webhook: EmulatedWebhook) -> str:
    if webhook.is_async:
        return "async"
    if webhook.version == 2:
        return "sync, with polling" if webhook.polling else "sync, no polling"
    return "sync"


def webhook_path(webhook: EmulatedWebhook) -> str:
    """The path under SITE_ROOT the relay calls for this channel (its version's endpoint)."""
    name = "emulator-v1" if webhook.version == 1 else "emulator-v2"
    if webhook.instance_id:
        return reverse(f"{name}-instance", args=[webhook.bot_id, webhook.instance_id])
    return reverse(name, args=[webhook.bot_id])


def webhook_url(webhook: EmulatedWebhook) -> str:
    return settings.SITE_ROOT.rstrip("/") + webhook_path(webhook)


def upstream_url() -> str:
    """What a relay on another server puts as its bot's upstream URL to reach this emulator
    (a relay on this server leaves it blank)."""
    path = reverse("emulator-v2", args=["st-x"])  # Kore's own paths start at /chatbot/
    return settings.SITE_ROOT.rstrip("/") + path[: path.index("/chatbot/")]


def channel_page(webhook: EmulatedWebhook) -> dict[str, Any]:
    """What Kore's channel page shows of this channel, client secret included (it is the
    value the operator copies into the relay)."""
    return {
        "name": webhook.bot_name,
        "bot_id": webhook.bot_id,
        "instance_id": webhook.instance_id,
        "client_id": webhook.client_id,
        "client_secret": webhook.client_secret,
        "public_jwk": public_jwk(webhook) if webhook.jwe_enabled else None,
        "version": webhook.version,
        "mode": "async" if webhook.is_async else "sync",
        "polling": webhook.polling,
        "webhook_url": webhook_url(webhook),
        "upstream_url": upstream_url(),
        "post_url": webhook.post_url,
        "jwt_algorithm": webhook.jwt_algorithm,
        "jwt_public_key": bool(webhook.jwt_public_key),
        "enforce_jti": webhook.enforce_jti,
        "jwe": webhook.jwe_enabled,
        "callback_names_user": webhook.callback_names_user,
        "v1_ack": webhook.v1_ack_body,
        "form_placement": webhook.form_placement,
        "sdk_form_links": webhook.sdk_form_links,
    }


def channel_summary(webhook: EmulatedWebhook) -> dict[str, Any]:
    """One line of the channel list: no secret."""
    return {
        "name": webhook.bot_name,
        "bot_id": webhook.bot_id,
        "instance_id": webhook.instance_id,
        "client_id": webhook.client_id,
        "version": webhook.version,
        "mode": mode_label(webhook),
        "post_url": webhook.post_url,
    }


def find_channel(bot_id: str, instance_id: str = "") -> EmulatedWebhook:
    webhook = EmulatedWebhook.objects.filter(bot_id=bot_id, instance_id=instance_id).first()
    if webhook is not None:
        return webhook
    others = list(
        EmulatedWebhook.objects.filter(bot_id=bot_id)
        .order_by("instance_id")
        .values_list("instance_id", flat=True)
    )
    if not others:
        raise ChannelError(f"No emulated channel has the bot id {bot_id!r}.")
    if instance_id:
        raise ChannelError(
            f"The bot {bot_id} has no hook instance {instance_id!r}; its instances: "
            + ", ".join(i or "(the first channel, no instance id)" for i in others)
            + "."
        )
    raise ChannelError(
        f"The bot {bot_id} has no first channel; name one of its hook instances "
        f"({', '.join(others)})."
    )


def check_public_key(pem: str) -> str:
    """The customer's RSA public key (PEM) for an RS256/RS512 app, as given, or why not."""
    try:
        key = load_pem_public_key(pem.strip().encode())
    except ValueError:
        raise ChannelError(
            "Not a PEM public key (a block '-----BEGIN PUBLIC KEY-----'); give the public "
            "half of the key the relay signs with."
        ) from None
    if not isinstance(key, RSAPublicKey):
        raise ChannelError("RS256 and RS512 need an RSA public key.")
    return pem.strip() + "\n"


def check_post_url(url: str) -> str:
    """An absolute http(s) URL, or a path starting with / (joined to SITE_ROOT at run time)."""
    url = url.strip()
    if url.startswith("/") and not url.startswith("//"):
        return url
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    raise ChannelError(
        f"Not a POST_URL: {url!r}. Give an http(s) URL (the POST_URL the relay's bot page "
        "shows) or a path starting with /."
    )


def check_security(algorithm: str, public_key: str) -> str:
    """The app's signing settings fit together (an RS app has the customer's RSA public
    key, an HS app none); the public key to store."""
    if algorithm in RS_ALGORITHMS:
        if not public_key.strip():
            raise ChannelError(f"{algorithm} needs the public key of the relay's signing key.")
        return check_public_key(public_key)
    if public_key.strip():
        raise ChannelError(
            f"{algorithm} signs with the client secret: a public key is only for RS256 or RS512."
        )
    return ""


def credentials_issue(webhook: EmulatedWebhook, instance_of: str = "") -> None:
    """Give a new channel its ids and secret: a new bot, or a further hook instance of the
    bot `instance_of`. The caller saves it."""
    if instance_of:
        if not EmulatedWebhook.objects.filter(bot_id=instance_of).exists():
            raise ChannelError(f"No emulated channel has the bot id {instance_of!r}.")
        webhook.bot_id = instance_of
        webhook.instance_id = new_instance_id()
    else:
        webhook.bot_id = new_bot_id()
        webhook.instance_id = ""
    webhook.client_id = new_client_id()
    webhook.client_secret = new_client_secret()


def channel_save(webhook: EmulatedWebhook) -> EmulatedWebhook:
    """Check and store a channel's settings; JWE on gives it its key pair (kept when JWE is
    switched off, so switching it on again shows the same public key)."""
    webhook.jwt_public_key = check_security(webhook.jwt_algorithm, webhook.jwt_public_key)
    if webhook.post_url:
        webhook.post_url = check_post_url(webhook.post_url)
    if webhook.jwe_enabled:
        jwe_keys_ensure(webhook)
    webhook.save()
    return webhook
