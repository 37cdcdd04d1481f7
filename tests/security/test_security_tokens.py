"""Tokens: every way of presenting a bad one is refused with the documented 401."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import time_machine
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.conftest import ClaimsFactory
from webclient import selectors, services
from webclient.emulator.auth import authenticate
from webclient.emulator.channels import Channel
from webclient.errors import ApplicationError
from webclient.kore.payloads import BotItem
from webclient.models import Bot
from webclient.sts import identity_hash, token_issue, token_verify

pytestmark = pytest.mark.django_db

ROUTES = [
    ("get", "/api/v1/messages?after=0&wait=0"),
    ("post", "/api/v1/messages"),
    ("post", "/api/v1/sts/refresh"),
]
SEND = {"text": "hi", "clientMessageId": "c-1"}


def call(method: str, path: str, token: str | None) -> Any:
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    if method == "get":
        return client.get(path)
    return client.post(path, SEND, format="json")


def assert_refused(token: str | None, message_part: str = "") -> None:
    for method, path in ROUTES:
        answer = call(method, path, token)
        assert answer.status_code == 401, (method, path, answer.content)
        error = answer.json()["error"]
        assert error["code"] == "invalid_token"
        assert message_part in error["message"]
        assert answer["WWW-Authenticate"].startswith("Bearer")


def test_a_request_without_a_token_is_refused_on_every_route() -> None:
    assert_refused(None)


def test_a_malformed_authorization_header_is_refused() -> None:
    for header in ("Basic abc", "Bearer", "Bearer    ", "token"):
        answer = APIClient().get("/api/v1/messages", HTTP_AUTHORIZATION=header)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "invalid_token"


def test_a_garbage_token_is_refused() -> None:
    assert_refused("not.a.token")
    assert_refused("x" * 500)


def test_an_unsigned_alg_none_token_is_refused(demo: Bot, claims: ClaimsFactory) -> None:
    assert_refused(jwt.encode(claims(demo), "", algorithm="none"))


@pytest.mark.filterwarnings("ignore::jwt.InsecureKeyLengthWarning")
def test_a_token_signed_with_another_algorithm_is_refused_even_with_the_right_key(
    demo: Bot, claims: ClaimsFactory
) -> None:
    assert_refused(jwt.encode(claims(demo), demo.client_secret, algorithm="HS512"))


def test_a_token_signed_with_another_bots_secret_is_refused(
    demo: Bot, claims: ClaimsFactory
) -> None:
    other = Bot.objects.get(slug="demo-v1-sync")
    assert_refused(jwt.encode(claims(demo), other.client_secret, algorithm="HS256"))


def test_a_token_naming_another_bots_app_id_is_refused(demo: Bot, claims: ClaimsFactory) -> None:
    other = Bot.objects.get(slug="demo-v1-sync")
    token = jwt.encode(claims(demo, appId=other.client_id), demo.client_secret, algorithm="HS256")
    assert_refused(token)


def test_an_expired_token_is_refused(demo: Bot, claims: ClaimsFactory) -> None:
    now = int(time.time())
    token = jwt.encode(
        claims(demo, iat=now - 3700, exp=now - 100), demo.client_secret, algorithm="HS256"
    )
    assert_refused(token, "expired")


def test_a_token_that_is_not_valid_yet_is_refused(demo: Bot, claims: ClaimsFactory) -> None:
    now = int(time.time())
    for changes in ({"nbf": now + 300}, {"iat": now + 300, "exp": now + 900}):
        token = jwt.encode(claims(demo, **changes), demo.client_secret, algorithm="HS256")
        assert_refused(token, "not valid yet")


def test_a_little_clock_skew_is_tolerated(demo: Bot, claims: ClaimsFactory) -> None:
    now = int(time.time())
    token = jwt.encode(claims(demo, iat=now + 10, nbf=now + 10), demo.client_secret)
    assert call("get", "/api/v1/messages?after=0&wait=0", token).status_code == 200


def test_a_token_accepted_once_is_refused_once_it_expires(demo: Bot, claims: ClaimsFactory) -> None:
    # Accepted tokens are remembered, and then only checked against the clock: this one
    # is within the leeway for between 1 and 2 seconds.
    now = int(time.time())
    token = jwt.encode(claims(demo, iat=now - 600, exp=now - 28), demo.client_secret)
    with time_machine.travel(now, tick=False) as clock:
        assert token_verify(token).identity == "dave"
        clock.shift(2.05)
        with pytest.raises(ApplicationError, match="expired"):
            token_verify(token)


def test_a_token_accepted_once_is_refused_once_the_bots_secret_changes(demo: Bot) -> None:
    token = token_issue(bot=demo, identity="dave", anonymous=False, proof="browser").jwt
    assert token_verify(token).identity == "dave"
    demo.client_secret = "a-new-secret-nobody-signed-with-" + "z" * 30
    demo.save()
    with pytest.raises(ApplicationError, match="malformed, expired or not for this bot"):
        token_verify(token)


def test_the_claims_of_a_remembered_token_are_each_callers_own(demo: Bot) -> None:
    token = token_issue(bot=demo, identity="dave", anonymous=False, proof="browser").jwt
    token_verify(token).claims["sub"] = "mallory"
    assert token_verify(token).claims["sub"] == "dave"


def test_a_token_living_longer_than_the_configured_lifetime_is_refused(
    demo: Bot, claims: ClaimsFactory
) -> None:
    now = int(time.time())
    token = jwt.encode(claims(demo, exp=now + 7 * 24 * 3600), demo.client_secret)
    assert_refused(token)


def test_a_token_without_exp_is_refused(demo: Bot, claims: ClaimsFactory) -> None:
    assert_refused(jwt.encode(claims(demo, exp=None), demo.client_secret))


def test_a_token_with_an_audience_is_refused(demo: Bot, claims: ClaimsFactory) -> None:
    assert_refused(jwt.encode(claims(demo, aud="https://elsewhere.example"), demo.client_secret))


# A poll through Django is answered by the long-poll handler, whose database threads have
# connections of their own: a change to the bot must be committed for them to see it.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_token_for_a_disabled_bot_is_refused(demo: Bot) -> None:
    token = token_issue(bot=demo, identity="dave", anonymous=False).jwt
    demo.enabled = False
    demo.save()
    assert_refused(token)


def test_issued_tokens_keep_kores_claims_and_a_short_lifetime(demo: Bot) -> None:
    body = APIClient().post("/api/v1/sts", {"bot": "demo"}, format="json").json()
    header = jwt.get_unverified_header(body["jwt"])
    decoded = jwt.decode(body["jwt"], demo.client_secret, algorithms=["HS256"])
    assert header["alg"] == "HS256"
    assert {"appId", "sub", "userIdentity", "iat", "exp"} <= decoded.keys()
    assert "aud" not in decoded
    assert decoded["exp"] - decoded["iat"] == 3600


def test_the_emulator_accepts_our_tokens_as_kore_would(demo: Bot) -> None:
    token = token_issue(bot=demo, identity="erin", anonymous=False, proof="browser").jwt
    channel = Channel(
        bot_id=demo.bot_id,
        instance_id="",
        bot_name="Demo",
        client_id=demo.client_id,
        client_secret=demo.client_secret,
        version=2,
        is_async=False,
        polling=True,
        post_url="",
    )
    found, verified = authenticate(f"bearer {token}", [channel])
    assert found == channel
    assert verified["userIdentity"] == "erin"


def test_a_bot_with_a_client_secret_shorter_than_256_bits_issues_no_token(demo: Bot) -> None:
    demo.client_secret = "s" * 31
    demo.save()
    answer = APIClient().post("/api/v1/sts", {"bot": "demo"}, format="json")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "bot_misconfigured"
    assert "jwt" not in answer.json()
    assert "s" * 31 not in answer.content.decode()


@pytest.mark.filterwarnings("ignore::jwt.InsecureKeyLengthWarning")
# A poll through Django is answered by the long-poll handler, whose database threads have
# connections of their own: a change to the bot must be committed for them to see it.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_weak_keyed_bot_accepts_no_token_either(demo: Bot, claims: ClaimsFactory) -> None:
    demo.client_secret = "short"
    demo.save()
    token = jwt.encode(claims(demo), "short", algorithm="HS256")
    answer = call("get", "/api/v1/messages?after=0&wait=0", token)
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "bot_misconfigured"


# Refresh


def sts(body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = APIClient().post("/api/v1/sts", body or {"bot": "demo"}, format="json")
    assert answer.status_code == 200, answer.content
    data: dict[str, Any] = answer.json()
    return data


def refresh(token: str) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.post("/api/v1/sts/refresh")


def test_a_valid_token_is_refreshed_for_the_same_identity_and_bot(demo: Bot) -> None:
    first = sts()
    answer = refresh(first["jwt"])
    assert answer.status_code == 200
    second = answer.json()
    assert (second["identity"], second["bot"]) == (first["identity"], "demo")
    assert second["expiresAt"] >= first["expiresAt"]
    decoded = jwt.decode(second["jwt"], demo.client_secret, algorithms=["HS256"])
    assert decoded["sub"] == first["identity"]
    assert decoded["isAnonymous"] is True


def test_an_anonymous_conversation_continues_with_the_refreshed_token(demo: Bot) -> None:
    first = sts()
    conversation = services.conversation_get_or_create(bot=demo, identity=first["identity"])
    services.bot_messages_store(conversation=conversation, items=[BotItem("kept")])
    principal = token_verify(refresh(first["jwt"]).json()["jwt"])
    history = selectors.messages_after(
        bot_id=principal.bot.pk, identity=principal.identity, after=0
    )
    assert [m.text for m in history] == ["kept"]


def test_an_expired_token_cannot_be_refreshed(demo: Bot, claims: ClaimsFactory) -> None:
    now = int(time.time())
    token = jwt.encode(claims(demo, iat=now - 3700, exp=now - 100), demo.client_secret)
    answer = refresh(token)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_token"


def test_a_browser_asserted_identity_is_not_refreshed_once_the_bot_stops_trusting_browsers(
    demo: Bot,
) -> None:
    token = sts({"bot": "demo", "identity": "alice"})["jwt"]
    demo.identity_mode = Bot.IdentityMode.VERIFIED
    demo.save()
    answer = refresh(token)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_token"


# Identity modes


def test_a_trust_browser_bot_still_gives_an_anonymous_identity_without_one() -> None:
    body = sts({"bot": "demo"})
    assert body["identity"].startswith("anon-")


def test_a_verified_bot_refuses_an_identity_without_its_signature(demo: Bot) -> None:
    demo.identity_mode = Bot.IdentityMode.VERIFIED
    demo.identity_secret = "k" * 32
    demo.save()
    for body in ({"identity": "bob"}, {"identity": "bob", "identityHash": "é" * 64}):
        answer = APIClient().post("/api/v1/sts", body, format="json")
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "identity_not_verified"
    good = {"identity": "bob", "identityHash": identity_hash(demo, "bob")}
    assert sts(good)["identity"] == "bob"


def test_a_verified_bot_gives_the_logged_in_user_their_identity_with_a_csrf_token(
    demo: Bot,
) -> None:
    demo.identity_mode = Bot.IdentityMode.VERIFIED
    demo.save()
    user = User.objects.create_user("frank", password="pw-frank-123456")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    refused = client.post("/api/v1/sts", {"identity": "someone-else"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    client.get("/admin/login/")  # sets the csrftoken cookie
    csrf = client.cookies["csrftoken"].value
    answer = client.post(
        "/api/v1/sts", {"identity": "someone-else"}, format="json", HTTP_X_CSRFTOKEN=csrf
    )
    assert answer.status_code == 200
    assert answer.json()["identity"] == f"session:{user.pk}"


def test_a_logged_in_session_means_nothing_to_an_anonymous_bot(demo: Bot) -> None:
    demo.identity_mode = Bot.IdentityMode.ANONYMOUS
    demo.save()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("gina", password="pw-gina-123456"))
    answer = client.post("/api/v1/sts", {}, format="json")
    assert answer.status_code == 200
    assert answer.json()["identity"].startswith("anon-")


# Identities from different kinds of proof never meet


def session_identity_of(user: User) -> str:
    client = APIClient()
    client.force_login(user)
    answer = client.post("/api/v1/sts", {}, format="json")
    assert answer.status_code == 200
    identity: str = answer.json()["identity"]
    return identity


def test_a_signed_identity_never_reaches_a_session_users_conversation(demo: Bot) -> None:
    demo.identity_mode = Bot.IdentityMode.VERIFIED
    demo.identity_secret = "k" * 32
    demo.save()
    taken = session_identity_of(User.objects.create_user("hana", password="pw-hana-123456"))
    # The embedding site vouches for a user id that spells the session user's identity,
    # in the old spelling and the new, in any case.
    for claimed in (taken, taken.upper(), f"user-{User.objects.get(username='hana').pk}"):
        body = {"identity": claimed, "identityHash": identity_hash(demo, claimed)}
        answer = APIClient().post("/api/v1/sts", body, format="json")
        assert answer.status_code == 403 or answer.json()["identity"] != taken, claimed


def test_a_browser_identity_never_reaches_an_anonymous_conversation(demo: Bot) -> None:
    anonymous = sts({"bot": "demo"})["identity"]
    for claimed in (anonymous, anonymous.upper(), "session:1"):
        answer = APIClient().post("/api/v1/sts", {"identity": claimed}, format="json")
        # 403: the widget then asks again without an identity, and gets a fresh one.
        assert answer.status_code == 403, claimed
        assert answer.json()["error"]["code"] == "identity_reserved"
    fresh = sts({"bot": "demo"})["identity"]
    assert fresh != anonymous and fresh.startswith("anon-")
