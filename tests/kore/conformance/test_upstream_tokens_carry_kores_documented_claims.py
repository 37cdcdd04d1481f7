"""The token the relay sends upstream with every call (`webclient.kore.tokens.upstream_token`),
against Kore's JWT samples (fixtures/jwt_header.json, v2_jwt_payload.json,
jwt_sample_payload.json, jwe_header.json): the documented header and claims, a fresh `jti` on
every call, a lifetime within the hour Kore allows a token with a `jti`, signed with the
app's algorithm; encrypted as Kore's JWE header shows when the bot asks for JWE.

`upstream_token` and the bot's signing and JWE settings come with the relay's support for
hardened Kore apps; `importlib` reaches them so that this file loads before they exist."""

from __future__ import annotations

import importlib
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.kore.conformance.kore_docs import fixture
from webclient.models import Bot

IDENTITY = "alice@example.com"
SECRET = "s3cret-" * 6


def upstream_token(bot: Bot, identity: str, anonymous: bool = False) -> str:
    tokens = importlib.import_module("webclient.kore.tokens")
    token: str = tokens.upstream_token(bot, identity, anonymous=anonymous)
    return token


def make_bot(**settings: Any) -> Bot:
    bot = Bot(slug="b", bot_id="st-1", client_id="cs-1", client_secret=SECRET, api_version=2)
    for name, value in settings.items():
        setattr(bot, name, value)
    return bot


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def assert_documented_claims(claims: dict[str, Any], bot: Bot, anonymous: bool = False) -> None:
    documented = fixture("jwt_sample_payload")
    unknown = set(claims) - set(documented["documented_claims"])
    assert not unknown, f"claims Kore does not document: {unknown}"
    assert claims["appId"] == bot.client_id  # the webhook's JWT payload (v2_jwt_payload.json)
    assert claims.get("userIdentity", IDENTITY) == IDENTITY
    assert isinstance(claims["sub"], str) and claims["sub"]
    assert isinstance(claims["iat"], int) and isinstance(claims["exp"], int)
    assert isinstance(claims["jti"], str) and claims["jti"]
    now = time.time()
    assert claims["iat"] <= now + 5 < claims["exp"] + 5
    assert 0 < claims["exp"] - claims["iat"] <= documented["max_jti_lifetime_seconds"]
    # "Default setting is false"; true: "Anonymous users are not persisted on the Platform."
    assert claims.get("isAnonymous", False) is anonymous


@pytest.mark.parametrize("algorithm", ["HS256", "HS512"])
def test_a_secret_signed_token_has_the_documented_header_and_claims(algorithm: str) -> None:
    bot = make_bot(jwt_algorithm=algorithm)
    token = upstream_token(bot, IDENTITY)
    header = jwt.get_unverified_header(token)
    assert header == {**fixture("jwt_header")["body"], "alg": algorithm}
    claims = jwt.decode(token, SECRET, algorithms=[algorithm], options={"verify_aud": False})
    assert_documented_claims(claims, bot)


def test_the_default_is_hs256_as_kores_sample_header() -> None:
    token = upstream_token(make_bot(), IDENTITY)
    assert jwt.get_unverified_header(token) == fixture("jwt_header")["body"]


@pytest.mark.parametrize("algorithm", ["RS256", "RS512"])
def test_an_rsa_app_gets_a_token_its_public_key_verifies(algorithm: str) -> None:
    key = rsa_key()
    bot = make_bot(jwt_algorithm=algorithm, jwt_private_key=pem(key))
    token = upstream_token(bot, IDENTITY)
    assert jwt.get_unverified_header(token) == {"alg": algorithm, "typ": "JWT"}
    claims = jwt.decode(
        token, key.public_key(), algorithms=[algorithm], options={"verify_aud": False}
    )
    assert_documented_claims(claims, bot)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, rsa_key().public_key(), algorithms=[algorithm])


def test_every_call_gets_a_fresh_jti() -> None:
    bot = make_bot()
    jtis = {
        jwt.decode(upstream_token(bot, IDENTITY), SECRET, algorithms=["HS256"])["jti"]
        for _ in range(20)
    }
    assert len(jtis) == 20


def test_an_anonymous_user_is_said_to_be_anonymous() -> None:
    bot = make_bot()
    token = upstream_token(bot, IDENTITY, anonymous=True)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert_documented_claims(claims, bot, anonymous=True)


@pytest.mark.parametrize("encryption", ["A128CBC-HS256", "A128GCM", "A256GCM"])
def test_with_jwe_the_token_is_encrypted_to_kores_key_under_the_documented_header(
    encryption: str,
) -> None:
    jwk = importlib.import_module("joserfc.jwk")
    jwe = importlib.import_module("joserfc.jwe")
    platform_key = jwk.RSAKey.generate_key(2048, parameters={"kid": "k-platform-1"})
    public = json.dumps(platform_key.as_dict(private=False))
    bot = make_bot(jwe_enabled=True, jwe_public_key=public, jwe_alg="RSA-OAEP", jwe_enc=encryption)
    token = upstream_token(bot, IDENTITY)
    assert token.count(".") == 4, "a JWE compact token has five parts"
    documented = fixture("jwe_header")
    decrypted = jwe.decrypt_compact(token, platform_key)
    header = decrypted.protected
    assert set(header) <= set(documented["body"])
    assert (header["alg"], header["enc"], header["kid"], header["typ"]) == (
        "RSA-OAEP",
        encryption,
        "k-platform-1",
        "JWT",
    )
    assert header["enc"] in documented["documented_values"]["enc"]
    inner = decrypted.plaintext.decode()
    claims = jwt.decode(inner, SECRET, algorithms=["HS256"], options={"verify_aud": False})
    assert_documented_claims(claims, bot)
