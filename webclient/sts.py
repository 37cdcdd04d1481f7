"""Issue and verify the JWTs that Kore expects, signed with the bot's client secret.

The token is the browser's bearer for our API (and what Kore's Web SDK holds); the relay
never sends it upstream: each upstream call has a token of its own (webclient/kore/tokens.py).
It has Kore's claims (`appId`, `sub`, `userIdentity`, `iat`, `exp`) plus ours: `bot` (the bot
slug), `identityProof` (how the identity was established, so that a refresh can be
refused once the bot stops accepting that proof), `authTime` (when the STS call that
started this chain of refreshes was made: a chain lives at most STS_MAX_SESSION_AGE),
`identityMode` (the bot's identity mode when it was issued: a token is valid only while the
bot keeps that mode, so changing the mode revokes every token issued before, in every
process within the bot cache's bound, webclient/botcache.py) and,
on a token refreshed from one the previous client secret signed, `rotation` (that
rotation's time in milliseconds: ending its grace or rotating again revokes the chain).
No `aud` is issued: Kore's platform has its own idea of the audience, and a token carrying
one is refused here.

Verification is strict: HS256 only (the header is checked before anything else), a key of
at least 256 bits, `exp` required and no further than STS_TOKEN_LIFETIME after `iat`,
`iat`/`nbf` not in the future beyond a small leeway, `appId` equal to the bot's client id.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol, cast

import jwt
from django.conf import settings
from jwt.types import Options

from webclient import botcache
from webclient.errors import ApplicationError, Kind
from webclient.models import Bot, Conversation

log = logging.getLogger(__name__)

ALGORITHMS = ["HS256"]
# Clock skew tolerated between this server and whoever checks the token.
LEEWAY_SECONDS = 30
# RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
MIN_KEY_BYTES = 32
# Conversation.identity's length.
MAX_IDENTITY_LENGTH = 255
# Identities this server chooses begin with these; nobody else's identity may, so that an
# identity vouched for by a site or a browser never names an anonymous or session user's
# conversation (compared without case: "ANON-…" is refused too).
ANONYMOUS_PREFIX = "anon-"
SESSION_PREFIX = "session:"
RESERVED_PREFIXES = (ANONYMOUS_PREFIX, SESSION_PREFIX)


class Proof:
    """How a token's identity was established (the `identityProof` claim)."""

    ANONYMOUS = "anonymous"  # chosen by this server
    HASH = "hash"  # HMAC-signed by the embedding site's backend
    SESSION = "session"  # the Django-authenticated user
    BROWSER = "browser"  # taken as the browser said (trust_browser bots)


# The proofs each identity mode accepts, at issue and at refresh.
ACCEPTED_PROOFS = {
    Bot.IdentityMode.ANONYMOUS: {Proof.ANONYMOUS},
    Bot.IdentityMode.VERIFIED: {Proof.ANONYMOUS, Proof.HASH, Proof.SESSION},
    Bot.IdentityMode.TRUST_BROWSER: {Proof.ANONYMOUS, Proof.BROWSER},
}


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
        return Conversation.channel_of(self.bot.pk, self.identity)

    @property
    def proof(self) -> str | None:
        proof = self.claims.get("identityProof")
        return proof if isinstance(proof, str) else None


@dataclass(frozen=True)
class IssuedToken:
    jwt: str
    identity: str
    expires_at: datetime


@dataclass(frozen=True)
class ChosenIdentity:
    identity: str
    proof: str

    @property
    def anonymous(self) -> bool:
        return self.proof == Proof.ANONYMOUS


def key_too_short(secret: str) -> bool:
    return len(secret.encode()) < MIN_KEY_BYTES


def signing_key(bot: Bot) -> bytes:
    """The bot's client secret as an HS256 key; refuses one shorter than 256 bits."""
    key = bot.client_secret.encode()
    if len(key) < MIN_KEY_BYTES:
        log.error(
            "bot %s: the client secret is shorter than %d bytes; no token is signed or accepted",
            bot.slug,
            MIN_KEY_BYTES,
        )
        raise ApplicationError(
            "bot_misconfigured",
            "This bot cannot issue or accept tokens: its client secret is shorter than "
            "256 bits. An administrator must set a longer one.",
            Kind.UNAVAILABLE,
        )
    return key


def token_issue(
    *,
    bot: Bot,
    identity: str,
    anonymous: bool,
    proof: str | None = None,
    auth_time: int | None = None,
    rotation: int | None = None,
) -> IssuedToken:
    """A token; when refreshing, `auth_time` is the chain's origin (default: now) and
    `rotation` marks a chain that began under the previous client secret."""
    now = datetime.now(UTC).replace(microsecond=0)
    expires_at = now + timedelta(seconds=settings.STS_TOKEN_LIFETIME)
    claims: dict[str, Any] = {
        "appId": bot.client_id,
        "sub": identity,
        "userIdentity": identity,
        "isAnonymous": anonymous,
        "bot": bot.slug,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "authTime": int(now.timestamp()) if auth_time is None else auth_time,
    }
    claims[MODE_CLAIM] = bot.identity_mode
    if proof is not None:
        claims["identityProof"] = proof
    if rotation is not None:
        claims[ROTATION_CLAIM] = rotation
    token = jwt.encode(claims, signing_key(bot), algorithm="HS256")
    return IssuedToken(jwt=token, identity=identity, expires_at=expires_at)


def token_refresh(principal: Principal) -> IssuedToken:
    """A fresh token for the same identity and bot, while the bot accepts its proof and
    the chain is younger than STS_MAX_SESSION_AGE."""
    proof = principal.proof
    if proof not in ACCEPTED_PROOFS[Bot.IdentityMode(principal.bot.identity_mode)]:
        raise _invalid("This token cannot be refreshed; ask /api/v1/sts for a new one.")
    origin = chain_origin(principal.claims)
    if datetime.now(UTC).timestamp() - origin > settings.STS_MAX_SESSION_AGE:
        raise _invalid("This session is too old to refresh; ask /api/v1/sts for a new token.")
    return token_issue(
        bot=principal.bot,
        identity=principal.identity,
        anonymous=proof == Proof.ANONYMOUS,
        proof=proof,
        auth_time=origin,
        rotation=principal.claims.get(ROTATION_CLAIM),
    )


ROTATION_CLAIM = "rotation"
MODE_CLAIM = "identityMode"


def _mode_changed(claims: dict[str, Any], bot: Bot) -> bool:
    """Issued under another identity mode than the bot's: a token of a trusting mode must
    not outlive a switch to a stricter one. (Tokens issued before this claim existed carry
    none, and live out their lifetime.)"""
    return MODE_CLAIM in claims and claims[MODE_CLAIM] != bot.identity_mode


def _milliseconds(moment: datetime) -> int:
    # Two rotations may fall in the same second, not in the same millisecond.
    return int(moment.timestamp() * 1000)


def chain_origin(claims: dict[str, Any]) -> int:
    """When the chain of refreshes this token ends began (tokens before `authTime`: iat)."""
    origin = claims.get("authTime", claims["iat"])
    return origin if type(origin) is int else int(claims["iat"])


def _chain_refused(claims: dict[str, Any], bot: Bot) -> bool:
    """A chain that claims to start after its token, that outlived every refresh it could
    have had, or that crossed a rotation the bot has revoked since (tokens_valid_after:
    moved to the rotation by ending its grace or rotating again)."""
    origin = chain_origin(claims)
    if "authTime" in claims and type(claims["authTime"]) is not int:
        return True
    if origin > int(claims["iat"]) + LEEWAY_SECONDS:
        return True
    oldest = settings.STS_MAX_SESSION_AGE + settings.STS_TOKEN_LIFETIME + LEEWAY_SECONDS
    if datetime.now(UTC).timestamp() - origin > oldest:
        return True
    rotation = claims.get(ROTATION_CLAIM)
    if rotation is None:
        return False
    if type(rotation) is not int:
        return True
    valid_after = bot.tokens_valid_after
    return valid_after is not None and rotation <= _milliseconds(valid_after)


def identity_reserved(identity: str) -> bool:
    return identity.lower().startswith(RESERVED_PREFIXES)


def _proof_mismatch(identity: str, proof: Any) -> bool:
    """An identity spelled in another proof's namespace (only a forger can make one)."""
    if proof == Proof.ANONYMOUS:
        return not identity.startswith(ANONYMOUS_PREFIX)
    if proof == Proof.SESSION:
        return not identity.startswith(SESSION_PREFIX)
    return proof in (Proof.HASH, Proof.BROWSER) and identity_reserved(identity)


def _invalid(
    message: str = "The token is missing, malformed, expired or not for this bot.",
) -> ApplicationError:
    return ApplicationError("invalid_token", message, Kind.UNAUTHENTICATED)


def _claims_unverified(token: str) -> dict[str, Any]:
    try:
        # One parse for both (PyJWT's checks of each segment cost tens of microseconds).
        unverified = jwt.decode_complete(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _invalid() from None
    header, claims = unverified["header"], unverified["payload"]
    # Explicit, before any key is used: `none`, HS512 or RS256 never reach verification.
    if header.get("alg") not in ALGORITHMS:
        raise _invalid()
    return claims


def token_verify(token: str) -> Principal:
    """Verify a bearer token; an UNAUTHENTICATED ApplicationError unless perfect."""
    return _verify(token, botcache.enabled_bot)


def token_verify_cached(token: str) -> Principal | None:
    """`token_verify` without the database, for event-loop code: None when it would need
    it (the bot is not in this process's cache, or the token's signature asks to re-read it)."""

    def from_memory(slug: str, *, fresh: bool = False) -> Bot | None:
        bot = None if fresh else botcache.cached_bot(slug)
        if bot is None:
            raise _NeedsDatabase
        return bot

    try:
        return _verify(token, from_memory)
    except _NeedsDatabase:
        return None


class _NeedsDatabase(Exception):
    pass


class _BotLookup(Protocol):
    def __call__(self, slug: str, *, fresh: bool = False) -> Bot | None: ...


class _Signed(NamedTuple):
    """A token PyJWT accepted: the bot it names, the key that checked it, and the claims
    PyJWT returned, good until the token's own `exp`."""

    slug: str
    key: bytes
    claims: dict[str, Any]
    expires: float


# Each poll presents the same token again, and PyJWT's verification of it (the segments'
# checks, the key's and the HMAC) costs tens of microseconds each time. The exact tokens
# PyJWT accepted are kept here with the key that checked them and the claims it returned.
# The same token with the same key gets PyJWT's answer again until the token's `exp`
# (RFC 7519: the moment from which it must no longer be accepted); once that moment is
# reached, PyJWT decodes it again, with every check but the signature's and its own leeway,
# and decides. Nothing of PyJWT's rules is repeated here: an answer PyJWT gave is reused
# only while the token's own claims say it cannot have changed. Only accepted tokens enter
# (a forger cannot fill it); emptied when full.
SIGNED_KEPT = 10_000
_signed: dict[str, _Signed] = {}

REQUIRED_CLAIMS = ["exp", "iat", "sub", "appId"]
# All of PyJWT's claim checks, named: without the signature's check PyJWT would skip them.
_CLAIM_CHECKS: Options = {
    "verify_signature": False,
    "verify_exp": True,
    "verify_nbf": True,
    "verify_iat": True,
    "verify_aud": True,
    "verify_iss": True,
    "verify_sub": True,
    "verify_jti": True,
    "require": REQUIRED_CLAIMS,
}


def _verify(token: str, bot_for: _BotLookup) -> Principal:
    known = _signed.get(token)
    slug = known.slug if known is not None else _claims_unverified(token).get("bot")
    if not isinstance(slug, str):
        raise _invalid()
    bot = bot_for(slug)
    if bot is None:
        raise _invalid()
    try:
        try:
            claims = _decode(token, bot, slug, known)
        except jwt.InvalidSignatureError:
            # Maybe signed with a secret rotated since this process cached the bot.
            bot = bot_for(slug, fresh=True)
            if bot is None:
                raise _invalid() from None
            claims = _decode(token, bot, slug, None)
    except jwt.ExpiredSignatureError:
        raise _invalid("The token has expired.") from None
    except jwt.ImmatureSignatureError:
        raise _invalid("The token is not valid yet.") from None
    except jwt.PyJWTError:
        raise _invalid() from None
    identity = claims["sub"]
    if (
        claims["appId"] != bot.client_id
        or not isinstance(identity, str)
        or not identity
        or len(identity) > MAX_IDENTITY_LENGTH
        or claims.get("userIdentity", identity) != identity
        or int(claims["exp"]) - int(claims["iat"]) > settings.STS_TOKEN_LIFETIME + LEEWAY_SECONDS
        or _chain_refused(claims, bot)
        or _mode_changed(claims, bot)
        or _proof_mismatch(identity, claims.get("identityProof"))
    ):
        raise _invalid()
    return Principal(bot=bot, identity=identity, claims=claims)


def _decode_with(token: str, key: bytes) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=ALGORITHMS,
        options={"require": REQUIRED_CLAIMS},
        leeway=LEEWAY_SECONDS,
    )
    return claims


def _previous_key(bot: Bot) -> bytes | None:
    """The client secret before the last rotation, while tokens it signed may be alive."""
    rotated_at = bot.client_secret_rotated_at
    if not bot.previous_client_secret or rotated_at is None:
        return None
    grace = timedelta(seconds=settings.STS_TOKEN_LIFETIME + LEEWAY_SECONDS)
    if datetime.now(UTC) > rotated_at + grace:
        return None
    return bot.previous_client_secret.encode()


def _decode_signed(token: str) -> dict[str, Any]:
    """PyJWT's decoding of a token whose signature it accepted before with the same key."""
    claims: dict[str, Any] = jwt.decode(
        token, algorithms=ALGORITHMS, options=_CLAIM_CHECKS, leeway=LEEWAY_SECONDS
    )
    return claims


def _decode(token: str, bot: Bot, slug: str, known: _Signed | None) -> dict[str, Any]:
    """Claims signed with the client secret, or with the previous one if issued before
    the rotation: a rotation keeps conversations working until their tokens are refreshed,
    and whoever knows the old secret can mint nothing that outlives the grace period."""
    key = signing_key(bot)
    if known is not None and known.key == key:
        if time.time() < known.expires:
            return dict(known.claims)
        return _decode_signed(token)
    try:
        claims = _decode_with(token, key)
    except jwt.InvalidSignatureError:
        previous = _previous_key(bot)
        if previous is None:
            raise
        claims = _decode_with(token, previous)
        rotated_at = cast(datetime, bot.client_secret_rotated_at)
        if int(claims["iat"]) > rotated_at.timestamp() + LEEWAY_SECONDS:
            raise
        # Its refreshes carry the mark, the earliest rotation the chain crossed: they die
        # when that grace is ended early or the secret rotated again. (Not kept: the grace
        # ends with time.)
        return {ROTATION_CLAIM: _milliseconds(rotated_at), **claims}
    if len(_signed) >= SIGNED_KEPT:
        _signed.clear()
    _signed[token] = _Signed(slug, key, claims, float(claims["exp"]))
    return claims


def anonymous_identity() -> str:
    return f"{ANONYMOUS_PREFIX}{uuid.uuid4()}"


def session_identity(user_pk: Any) -> str:
    return f"{SESSION_PREFIX}{user_pk}"


def identity_hash(bot: Bot, identity: str) -> str:
    """What the embedding site's backend computes to vouch for an identity."""
    return hmac.new(bot.identity_secret.encode(), identity.encode(), hashlib.sha256).hexdigest()


def _not_verified(message: str) -> ApplicationError:
    return ApplicationError("identity_not_verified", message, Kind.FORBIDDEN)


def identity_choose(
    *,
    bot: Bot,
    identity: str | None,
    identity_hash_value: str | None,
    session_user_pk: Any = None,
) -> ChosenIdentity:
    """The identity a token request gets, and how it was established.

    Only a trusted identity is honoured: signed by the embedding site or the logged-in
    Django user (verified mode; the caller has checked CSRF for the session), or taken as
    the browser says (trust_browser mode, Kore SDKApp behaviour). Without one, a fresh
    server-chosen identity.
    """
    mode = bot.identity_mode
    if mode != Bot.IdentityMode.ANONYMOUS and identity and identity_reserved(identity):
        # 403 like an unverified identity: the widget then asks again without one.
        raise ApplicationError(
            "identity_reserved",
            f"Identities starting with {' or '.join(RESERVED_PREFIXES)} are this server's own.",
            Kind.FORBIDDEN,
        )
    if mode == Bot.IdentityMode.VERIFIED:
        if identity and identity_hash_value:
            if not bot.identity_secret:
                raise _not_verified("This bot has no identity secret to check signatures.")
            # Bytes: compare_digest refuses non-ASCII str, and the hash is the caller's text.
            expected = identity_hash(bot, identity).encode()
            if not hmac.compare_digest(expected, identity_hash_value.encode()):
                raise _not_verified("The identity signature is wrong.")
            return ChosenIdentity(identity, Proof.HASH)
        if session_user_pk is not None:
            return ChosenIdentity(session_identity(session_user_pk), Proof.SESSION)
        if identity:
            raise _not_verified("This bot needs a signed identity.")
    if mode == Bot.IdentityMode.TRUST_BROWSER and identity:
        return ChosenIdentity(identity, Proof.BROWSER)
    return ChosenIdentity(anonymous_identity(), Proof.ANONYMOUS)
