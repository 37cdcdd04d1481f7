"""An app that requires JWE takes only a token encrypted to its own key: Kore's JWE channel
opens the token with the platform's private key, so a plain token, or one encrypted to
another key, is not a token of that app."""

from __future__ import annotations

import json
import secrets
import uuid

import pytest
from joserfc import jwe
from joserfc.jwk import RSAKey

from webclient.emulator.auth import InvalidToken, authenticate
from webclient.emulator.channels import Channel, jwe_keys_ensure, public_jwk
from webclient.emulator.models import EmulatedWebhook
from webclient.kore.tokens import encrypted, upstream_token
from webclient.models import Bot


def pair() -> tuple[Channel, Bot]:
    secret = secrets.token_urlsafe(32)
    webhook = EmulatedWebhook(
        bot_id=f"st-{uuid.uuid4()}",
        client_id=f"cs-{uuid.uuid4()}",
        client_secret=secret,
        version=2,
        jwe_enabled=True,
    )
    jwe_keys_ensure(webhook)
    bot = Bot(
        slug="jwe",
        bot_id=webhook.bot_id,
        client_id=webhook.client_id,
        client_secret=secret,
        api_version=2,
        jwe_enabled=True,
        jwe_public_key=json.dumps(public_jwk(webhook)),
    )
    return Channel.from_model(webhook), bot


def test_the_channel_opens_a_token_encrypted_to_its_own_key() -> None:
    channel, bot = pair()
    token = upstream_token(bot, "alice")
    assert token.count(".") == 4
    opened, claims = authenticate(f"bearer {token}", [channel])
    assert (opened, claims["userIdentity"]) == (channel, "alice")


def test_a_plain_signed_token_is_refused_by_an_app_that_requires_jwe() -> None:
    channel, bot = pair()
    bot.jwe_enabled = False
    plain = upstream_token(bot, "alice")
    assert plain.count(".") == 2
    with pytest.raises(InvalidToken, match="requires an encrypted token"):
        authenticate(f"bearer {plain}", [channel])


def test_a_token_encrypted_to_another_key_under_the_channels_kid_is_refused() -> None:
    channel, bot = pair()
    jwk = public_jwk(channel)
    assert jwk is not None
    stranger = RSAKey.generate_key(2048, parameters={"kid": str(jwk["kid"])})
    bot.jwe_public_key = json.dumps(stranger.as_dict(private=False))
    bot.jwe_enabled = False
    signed = upstream_token(bot, "alice")
    bot.jwe_enabled = True
    token = encrypted(bot, signed)
    with pytest.raises(InvalidToken, match="JWE not decrypted"):
        authenticate(f"bearer {token}", [channel])


def test_a_token_under_a_key_id_the_platform_never_gave_is_refused() -> None:
    channel, bot = pair()
    stranger = RSAKey.generate_key(2048, parameters={"kid": "someone-else"})
    protected = {"alg": "RSA-OAEP", "enc": "A256GCM", "kid": "someone-else", "typ": "JWT"}
    bot.jwe_enabled = False
    token = jwe.encrypt_compact(protected, upstream_token(bot, "alice").encode(), stranger)
    with pytest.raises(InvalidToken, match="no channel has this JWE key id"):
        authenticate(f"bearer {token}", [channel])
