"""Issue and verify the JWTs that Kore expects, signed with the bot's client secret.

The same token is the browser's bearer for our API and the relay's bearer upstream, so it
has Kore's claims (`appId`, `sub`, `userIdentity`, `iat`, `exp`) plus `bot`, our bot slug.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from django.conf import settings

from webclient.api.errors import ApiError
from webclient.models import Bot

ALGORITHMS = ["HS256"]
# Clock skew tolerated between this server and whoever checks the token.
LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class Principal:
    """Who is calling: one identity talking to one bot."""

    bot: Bot
    identity: str
    claims: dict[str, Any]

    # DRF treats request.user as a user object.
    is_authenticated = True

    @property
    def channel(self) -> str:
        return f"{self.bot.pk}:{self.identity}"


@dataclass(frozen=True)
class IssuedToken:
    jwt: str
    identity: str
    expires_at: datetime


def token_issue(*, bot: Bot, identity: str, anonymous: bool) -> IssuedToken:
    now = datetime.now(UTC).replace(microsecond=0)
    expires_at = now + timedelta(seconds=settings.STS_TOKEN_LIFETIME)
    claims = {
        "appId": bot.client_id,
        "sub": identity,
        "userIdentity": identity,
        "isAnonymous": anonymous,
        "bot": bot.slug,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    token = jwt.encode(claims, bot.client_secret, algorithm="HS256")
    return IssuedToken(jwt=token, identity=identity, expires_at=expires_at)


def _invalid(
    message: str = "The token is missing, malformed, expired or not for this bot.",
) -> ApiError:
    return ApiError(401, "invalid_token", message, headers={"WWW-Authenticate": "Bearer"})


def token_verify(token: str) -> Principal:
    """Verify a bearer token; raises ApiError(401) on anything short of perfect."""
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _invalid() from None
    slug = unverified.get("bot")
    if not isinstance(slug, str):
        raise _invalid()
    bot = Bot.objects.filter(slug=slug, enabled=True).first()
    if bot is None:
        raise _invalid()
    try:
        claims = jwt.decode(
            token,
            bot.client_secret,
            algorithms=ALGORITHMS,
            options={"require": ["exp", "iat", "sub", "appId"]},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise _invalid("The token has expired.") from None
    except jwt.PyJWTError:
        raise _invalid() from None
    identity = claims["sub"]
    if (
        claims["appId"] != bot.client_id
        or not isinstance(identity, str)
        or claims.get("userIdentity", identity) != identity
    ):
        raise _invalid()
    return Principal(bot=bot, identity=identity, claims=claims)


def anonymous_identity() -> str:
    return f"anon-{uuid.uuid4()}"


def identity_hash(bot: Bot, identity: str) -> str:
    """What the embedding site's backend computes to vouch for an identity."""
    return hmac.new(bot.identity_secret.encode(), identity.encode(), hashlib.sha256).hexdigest()


def identity_choose(
    *, bot: Bot, identity: str | None, identity_hash_value: str | None
) -> tuple[str, bool]:
    """The identity a token request gets, and whether it is anonymous.

    Only a trusted identity is honoured: signed by the embedding site (verified mode) or
    taken as the browser says (trust_browser mode, Kore SDKApp behaviour). Anything else
    gets a fresh server-chosen identity.
    """
    if identity:
        if bot.identity_mode == Bot.IdentityMode.TRUST_BROWSER:
            return identity, False
        if bot.identity_mode == Bot.IdentityMode.VERIFIED:
            if not bot.identity_secret or not identity_hash_value:
                raise ApiError(403, "identity_not_verified", "This bot needs a signed identity.")
            if not hmac.compare_digest(identity_hash(bot, identity), identity_hash_value):
                raise ApiError(403, "identity_not_verified", "The identity signature is wrong.")
            return identity, False
    return anonymous_identity(), True
