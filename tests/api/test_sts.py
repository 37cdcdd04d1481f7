from __future__ import annotations

import time
from urllib.parse import urlencode

import jwt
import pytest
from rest_framework.test import APIClient

from tests.conftest import ClaimsFactory
from webclient.errors import ApplicationError, Kind
from webclient.models import Bot
from webclient.sts import identity_hash, token_issue, token_verify

pytestmark = pytest.mark.django_db


def test_it_issues_a_kore_format_token_signed_with_the_client_secret(demo: Bot) -> None:
    answer = APIClient().post("/api/v1/sts", {"bot": "demo"}, format="json")
    assert answer.status_code == 200
    body = answer.json()
    claims = jwt.decode(body["jwt"], demo.client_secret, algorithms=["HS256"])
    assert claims["appId"] == demo.client_id
    assert claims["sub"] == claims["userIdentity"] == body["identity"]
    assert claims["exp"] - claims["iat"] == 3600
    assert body["bot"] == "demo"
    assert body["expiresAt"].endswith("Z")


def test_it_chooses_an_identity_for_anonymous_users(demo: Bot) -> None:
    first = APIClient().post("/api/v1/sts", {}, format="json").json()
    second = APIClient().post("/api/v1/sts", {}, format="json").json()
    assert first["identity"].startswith("anon-")
    assert first["identity"] != second["identity"]


def test_it_serves_the_sdkapp_route_form_encoded_and_ignores_a_browser_secret(demo: Bot) -> None:
    form = urlencode(
        {
            "clientId": demo.client_id,
            "clientSecret": "leaked",
            "identity": "alice@example.com",
            "aud": "",
            "isAnonymous": "false",
        }
    )
    answer = APIClient().post(
        "/api/users/sts", form, content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 200
    claims = jwt.decode(answer.json()["jwt"], demo.client_secret, algorithms=["HS256"])
    # Demo bots trust the browser's identity (Kore SDKApp behaviour).
    assert claims["sub"] == "alice@example.com"


def test_it_gives_an_anonymous_identity_when_the_bot_does_not_trust_browsers(demo: Bot) -> None:
    demo.identity_mode = Bot.IdentityMode.ANONYMOUS
    demo.save()
    body = APIClient().post("/api/v1/sts", {"identity": "alice"}, format="json").json()
    assert body["identity"] != "alice"


def test_it_honours_a_verified_identity_only_with_the_right_hash(demo: Bot) -> None:
    demo.identity_mode = Bot.IdentityMode.VERIFIED
    demo.identity_secret = "site-backend-secret"
    demo.save()
    good = APIClient().post(
        "/api/v1/sts",
        {"identity": "bob", "identityHash": identity_hash(demo, "bob")},
        format="json",
    )
    assert good.json()["identity"] == "bob"
    bad = APIClient().post(
        "/api/v1/sts", {"identity": "bob", "identityHash": "0" * 64}, format="json"
    )
    assert bad.status_code == 403
    assert bad.json()["error"]["code"] == "identity_not_verified"


def test_it_answers_404_for_an_unknown_bot() -> None:
    answer = APIClient().post("/api/v1/sts", {"bot": "nope"}, format="json")
    assert answer.status_code == 404
    assert answer.json() == {"error": {"code": "unknown_bot", "message": "There is no such bot."}}


def test_it_verifies_its_own_token(demo: Bot) -> None:
    token = token_issue(bot=demo, identity="carol", anonymous=False)
    principal = token_verify(token.jwt)
    assert (principal.bot.pk, principal.identity) == (demo.pk, "carol")


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": int(time.time()) - 3600},
        {"exp": None},
        {"iat": None},
        {"appId": "cs-someone-else"},
        {"userIdentity": "eve"},
        {"bot": None},
        {"bot": "no-such-bot"},
    ],
    ids=["expired", "no-exp", "no-iat", "wrong-app", "identity-mismatch", "no-bot", "unknown-bot"],
)
def test_it_rejects_tokens_with_bad_claims(
    demo: Bot, changes: dict[str, object], claims: ClaimsFactory
) -> None:
    token = jwt.encode(claims(demo, **changes), demo.client_secret, algorithm="HS256")
    with pytest.raises(ApplicationError) as caught:
        token_verify(token)
    assert caught.value.kind is Kind.UNAUTHENTICATED


def test_it_rejects_a_token_signed_with_another_bots_secret(
    demo: Bot, claims: ClaimsFactory
) -> None:
    other = Bot.objects.get(slug="demo-v1-sync")
    token = jwt.encode(claims(demo), other.client_secret, algorithm="HS256")
    with pytest.raises(ApplicationError):
        token_verify(token)


def test_it_rejects_an_unsigned_token(demo: Bot, claims: ClaimsFactory) -> None:
    token = jwt.encode(claims(demo), "", algorithm="none")
    with pytest.raises(ApplicationError):
        token_verify(token)


def test_it_rejects_garbage() -> None:
    with pytest.raises(ApplicationError):
        token_verify("not.a.token")
