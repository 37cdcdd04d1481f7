"""The platform's bearer-token check, as kore-webhook-protocol.md describes it.

The token names its app (`appId`, legacy `iss`); the emulator finds the channel with that
client id among the candidates and verifies the signature with that channel's secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jwt

from webclient.emulator.channels import Channel

ALGORITHMS = ["HS256", "HS512"]
# The platform caps tokens that carry a `jti` at one hour.
MAX_JTI_LIFETIME = 3600


class InvalidToken(Exception):
    """Any reason to answer 401 "Invalid Access token"."""


def bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("no bearer token")
    return token.strip()


def authenticate(authorization: str | None, candidates: Sequence[Channel]) -> tuple[Channel, dict]:
    """Return the channel the token belongs to and its verified claims."""
    token = bearer_token(authorization)
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    if header.get("alg") not in ALGORITHMS:
        raise InvalidToken("algorithm not allowed")
    app_id = unverified.get("appId") or unverified.get("iss")
    channel = next((c for c in candidates if c.client_id == app_id), None)
    if channel is None:
        raise InvalidToken("unknown app")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            channel.client_secret,
            algorithms=ALGORITHMS,
            options={"require": ["exp"], "verify_aud": False, "verify_iss": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    if "jti" in claims and claims["exp"] - claims.get("iat", claims["exp"]) > MAX_JTI_LIFETIME:
        raise InvalidToken("token with jti lives longer than an hour")
    return channel, claims


def check_identity(claims: dict, user_id: str) -> None:
    """`userIdentity`, when the token carries one, must name the sender."""
    identity = claims.get("userIdentity")
    if identity is not None and identity != user_id:
        raise InvalidToken("userIdentity does not match from.id")


def token_user(claims: dict) -> str | None:
    """Whom a GET call (history) speaks for: the token's userIdentity, else its subject."""
    user = claims.get("userIdentity") or claims.get("sub")
    return str(user) if user else None
