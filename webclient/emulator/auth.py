"""The platform's bearer-token check, as Kore documents it.

Sources (Koredotcom/docs): `docs/xo/sdk/sdk-security.md` (JWT header and claims, "jti
Validations", JSON Web Encryption), `docs/xo/apis/automation/api-introduction.md` ("Enforce
JTI"), `docs/xo/channels/add-webhook-channel.md` (the app's signing algorithm; "User
Identity" for `userIdentity` against `from`).

- The token names its app (`appId`, legacy `iss`); the emulator finds the channel with that
  client id among the candidates and verifies the signature as that app is set to: HS256 or
  HS512 with its client secret, RS256 or RS512 with the customer's public key. A token
  signed with any other algorithm is refused.
- A channel with JWE on accepts only a token encrypted to its own public key (the JWE
  header's `kid`), RSA-OAEP or RSA1_5, A128CBC-HS256, A128GCM or A256GCM; the emulator
  decrypts it with the channel's private key and then checks the JWT inside as above.
- A token with a `jti` may live at most an hour, and its `jti` is accepted once ("possibly a
  replay"); a channel with "Enforce JTI" refuses a token without one.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Sequence
from typing import Any

import jwt
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from webclient.emulator.channels import Channel

HMAC = frozenset({"HS256", "HS512"})
RSA = frozenset({"RS256", "RS512"})
JWE_ALGORITHMS = ("RSA-OAEP", "RSA1_5")
JWE_ENCRYPTIONS = ("A128CBC-HS256", "A128GCM", "A256GCM")
JWE_REGISTRY = jwe.JWERegistry(algorithms=[*JWE_ALGORITHMS, *JWE_ENCRYPTIONS])
# The platform caps tokens that carry a `jti` at one hour (sdk-security.md).
MAX_JTI_LIFETIME = 3600
# Kore's wording of the two jti refusals (sdk-security.md, "jti Validations").
JTI_TOO_LONG = 'error verifying the jwt: if "jti" claim "exp" must be <= 1 hour(s)'
JTI_REPLAY = "error verifying the jwt: possibly a replay"


class InvalidToken(Exception):
    """Any reason to answer 401; the message is the platform's `msg` when Kore words one."""

    def __init__(self, reason: str, msg: str = "Invalid Access token") -> None:
        super().__init__(reason)
        self.msg = msg


class SeenJtis:
    """jti values already used, each forgotten once its token has expired."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], float] = {}

    def first_use(self, client_id: str, jti: str, expires: float) -> bool:
        now = time.time()
        with self._lock:
            for key in [k for k, until in self._seen.items() if until < now]:
                del self._seen[key]
            if (client_id, jti) in self._seen:
                return False
            self._seen[(client_id, jti)] = expires
            return True

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


seen_jtis = SeenJtis()


def bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("no bearer token")
    return token.strip()


def _decrypted(token: str, candidates: Sequence[Channel]) -> tuple[str, Channel]:
    """The JWT inside a JWE, and the channel whose key opened it."""
    try:
        header = jwe.extract_compact(token.encode(), JWE_REGISTRY).protected
    except (JoseError, ValueError) as exc:
        raise InvalidToken(f"not a JWE: {exc}") from None
    kid = header.get("kid")
    channel = next((c for c in candidates if c.jwe_enabled and c.jwe_kid == kid), None)
    if channel is None:
        raise InvalidToken("no channel has this JWE key id")
    if header.get("alg") not in JWE_ALGORITHMS or header.get("enc") not in JWE_ENCRYPTIONS:
        raise InvalidToken("JWE algorithm not offered")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # RSA1_5 is deprecated, and still offered
            plain = jwe.decrypt_compact(
                token, RSAKey.import_key(channel.jwe_private_key), registry=JWE_REGISTRY
            ).plaintext
    except (JoseError, ValueError) as exc:
        raise InvalidToken(f"JWE not decrypted: {exc}") from None
    return (plain or b"").decode(), channel


def _verification_key(channel: Channel) -> str:
    return channel.jwt_public_key if channel.jwt_algorithm in RSA else channel.client_secret


def authenticate(authorization: str | None, candidates: Sequence[Channel]) -> tuple[Channel, dict]:
    """Return the channel the token belongs to and its verified claims."""
    token = bearer_token(authorization)
    opened_by: Channel | None = None
    if token.count(".") == 4:
        token, opened_by = _decrypted(token, candidates)
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    app_id = unverified.get("appId") or unverified.get("iss")
    channel = next((c for c in candidates if c.client_id == app_id), None)
    if channel is None:
        raise InvalidToken("unknown app")
    if channel.jwe_enabled and opened_by is not channel:
        raise InvalidToken("this app requires an encrypted token (JWE)")
    if header.get("alg") != channel.jwt_algorithm:
        raise InvalidToken("not signed with the app's algorithm")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            _verification_key(channel),
            algorithms=[channel.jwt_algorithm],
            options={"require": ["exp"], "verify_aud": False, "verify_iss": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    _check_jti(channel, claims)
    return channel, claims


def _check_jti(channel: Channel, claims: dict[str, Any]) -> None:
    jti = claims.get("jti")
    if jti is None:
        if channel.enforce_jti:
            raise InvalidToken("this app enforces jti; the token has none")
        return
    if claims["exp"] - claims.get("iat", time.time()) > MAX_JTI_LIFETIME:
        raise InvalidToken("token with jti lives longer than an hour", JTI_TOO_LONG)
    if not seen_jtis.first_use(channel.client_id, str(jti), float(claims["exp"])):
        raise InvalidToken("jti replayed", JTI_REPLAY)


def check_identity(claims: dict, user_id: str) -> None:
    """`userIdentity`, when the token carries one, must name the sender."""
    identity = claims.get("userIdentity")
    if identity is not None and identity != user_id:
        raise InvalidToken("userIdentity does not match from.id")


def token_user(claims: dict) -> str | None:
    """Whom a GET call (history) speaks for: the token's userIdentity, else its subject."""
    user = claims.get("userIdentity")
    user = user or claims.get("sub")
    return str(user) if user else None
