"""The tokens the relay sends to the Kore platform: a fresh one for every call.

Kore's apps can be hardened (docs/relay.md, "Authentication upstream"):
- "Enforce JTI" (api-introduction.md): a call without `jti` is refused; with one, a token
  may live at most an hour and a replayed `jti` is refused ("possibly a replay",
  sdk-security.md). So every call, every retry and every poll of a chain gets its own
  token with its own `jti`, living KORE_UPSTREAM_TOKEN_LIFETIME (at most an hour).
- The signing algorithm is the app's choice: HS256/HS512 with the client secret, RS256/RS512
  with the customer's RSA private key (Kore holds the public key).
- JWE (sdk-security.md, "JSON Web Encryption"): the signed JWT is encrypted to the public
  key Kore shows under the client secret (a JWK with `kid`), header `alg` RSA-OAEP (RSA1_5
  legacy), `enc` A128CBC-HS256, A128GCM or A256GCM, `kid`, and `typ: "JWT"`: exactly
  that header, nothing Kore does not show.

Claims, as Kore documents them: `appId` (the client id), `sub` and `userIdentity` (the user;
Kore checks `userIdentity` against `from.id`), `isAnonymous`, `iat`, `exp`, `jti`.

These tokens are not the browser's: those are ours (webclient/sts.py) and never go upstream.
"""

from __future__ import annotations

import json
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from webclient.models import Bot

HMAC_ALGORITHMS = frozenset({Bot.JwtAlgorithm.HS256, Bot.JwtAlgorithm.HS512})
RSA_ALGORITHMS = frozenset({Bot.JwtAlgorithm.RS256, Bot.JwtAlgorithm.RS512})
JWE_REGISTRY = jwe.JWERegistry(
    algorithms=[*Bot.JweAlgorithm.values, *Bot.JweEncryption.values],
)
# The identity the connection check's tokens name; no conversation is ever made for it.
CHECK_IDENTITY = "kore-chat-connection-check"


class TokenSettingsError(ValueError):
    """The bot's signing or encryption settings cannot make a token (a key is missing or
    unreadable): an administrator has to fix them."""


def signing_key(bot: Bot) -> str:
    if bot.jwt_algorithm in RSA_ALGORITHMS:
        if not bot.jwt_private_key.strip():
            raise TokenSettingsError(
                f"The bot signs with {bot.jwt_algorithm} but has no JWT private key."
            )
        return bot.jwt_private_key
    return bot.client_secret


def jwe_public_key(bot: Bot) -> RSAKey:
    """Kore's public JWK, as the bot stores it (JSON)."""
    try:
        data = json.loads(bot.jwe_public_key)
        key = RSAKey.import_key(data)
    except (ValueError, TypeError, JoseError) as exc:
        raise TokenSettingsError(f"Kore's JWE public key is not an RSA JWK: {exc}") from None
    if key.is_private:
        raise TokenSettingsError("Give Kore's public key, not a private one.")
    if not isinstance(data, dict) or not data.get("kid"):
        raise TokenSettingsError("Kore's JWE public key has no kid.")
    return key


def check_settings(bot: Bot) -> None:
    """Raise TokenSettingsError when no token could be made for the bot (admin checks)."""
    token = upstream_token(bot, CHECK_IDENTITY)
    if not token:
        raise TokenSettingsError("No token was made.")


def upstream_token(bot: Bot, identity: str, *, anonymous: bool = False) -> str:
    """A new token for one call to the platform on behalf of `identity`."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "appId": bot.client_id,
        "sub": identity,
        "userIdentity": identity,
        "isAnonymous": anonymous,
        "iat": now,
        "exp": now + settings.KORE_UPSTREAM_TOKEN_LIFETIME,
        "jti": uuid.uuid4().hex,
    }
    try:
        signed = jwt.encode(claims, signing_key(bot), algorithm=bot.jwt_algorithm)
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise TokenSettingsError(f"The token could not be signed: {exc}") from None
    if not bot.jwe_enabled:
        return signed
    return encrypted(bot, signed)


def encrypted(bot: Bot, signed: str) -> str:
    key = jwe_public_key(bot)
    protected = {
        "alg": bot.jwe_alg,
        "enc": bot.jwe_enc,
        "kid": key.kid,
        "typ": "JWT",
    }
    with warnings.catch_warnings():
        # RSA1_5 is deprecated; Kore still offers it, and the admin chose it knowingly.
        warnings.simplefilter("ignore")
        return jwe.encrypt_compact(protected, signed.encode(), key, registry=JWE_REGISTRY)


@dataclass(frozen=True)
class Credentials:
    """Whose tokens a call carries: each `fresh()` is a new token (own jti)."""

    bot: Bot
    identity: str
    anonymous: bool = False

    def fresh(self) -> str:
        return upstream_token(self.bot, self.identity, anonymous=self.anonymous)


TokenSource = Callable[[], str]
