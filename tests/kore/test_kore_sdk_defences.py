"""The defences of our API apply to the Kore SDK routes (/kore/) too: the STS names the bot
by Kore's clientId and never needs the secret, sends are rate limited (429 with
Retry-After, in Kore's error shape, which the SDK waits out), bodies are capped and
nesting is bounded, and a cross-origin caller the bot does not allow is refused."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from webclient.models import Bot, Message


@pytest.fixture(autouse=True)
def quiet_relay(settings: SettingsWrapper) -> None:
    # Nothing is forwarded upstream and a send does not wait for the bot: these tests are
    # about what the routes accept and refuse.
    settings.KORE_DISPATCHER = False
    settings.KORE_SDK_SEND_WAIT = 0


def sdk_token(bot: Bot, identity: str = "alice@example.com") -> str:
    # The SDK's own STS call: form-encoded, with a client secret that is not the bot's.
    form = {"clientId": bot.client_id, "clientSecret": "not-the-secret", "identity": identity}
    answer = APIClient().post(
        "/api/users/sts", urlencode(form), content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 200, answer.content
    token: str = answer.json()["jwt"]
    return token


def send(bot: Bot, token: str, body: Any, **extra: Any) -> Any:
    return APIClient().post(
        f"/kore/chatbot/v2/webhook/{bot.bot_id}",
        body if isinstance(body, str) else json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"bearer {token}",
        **extra,
    )


def hello(n: int = 0) -> dict[str, Any]:
    return {"message": {"type": "text", "val": f"hello {n}"}, "session": {"new": False}}


@pytest.mark.django_db
def test_the_sts_names_the_bot_by_kores_client_id_without_its_secret(demo: Bot) -> None:
    other = Bot.objects.get(slug="demo-v1-sync")
    claims = jwt.decode(sdk_token(other), other.client_secret, algorithms=["HS256"])
    assert claims["bot"] == "demo-v1-sync"
    assert claims["sub"] == "alice@example.com"
    unknown = APIClient().post("/api/users/sts", {"clientId": "cs-nobody"}, format="json")
    assert unknown.status_code == 404


@pytest.mark.django_db
def test_a_send_is_stored_once_for_the_tokens_user_and_answered_with_a_poll_id(
    demo: Bot,
) -> None:
    token = sdk_token(demo)
    first, again = send(demo, token, hello()), send(demo, token, hello())
    assert first.status_code == again.status_code == 200
    assert first.json()["_v"] == "v2" and first.json()["data"] == []
    assert "pollId" in first.json()
    stored = Message.objects.filter(role=Message.Role.USER)
    assert [(m.conversation.identity, m.text) for m in stored] == [("alice@example.com", "hello 0")]


@pytest.mark.django_db
def test_a_burst_of_sends_is_limited_with_retry_after_in_kores_shape(
    demo: Bot, settings: SettingsWrapper
) -> None:
    settings.RATELIMIT_SEND_PER_IDENTITY = 2
    token = sdk_token(demo)
    answers = [send(demo, token, hello(n)) for n in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[-1]["Retry-After"]
    assert answers[-1].json()["errors"][0]["code"] == 429


@pytest.mark.django_db
def test_a_body_over_the_cap_or_too_deeply_nested_is_refused(
    demo: Bot, settings: SettingsWrapper
) -> None:
    token = sdk_token(demo)
    big = {"message": {"type": "text", "val": "x" * (settings.API_MAX_BODY_BYTES + 1)}}
    assert send(demo, token, big).status_code == 413
    deep = "[" * (settings.JSON_MAX_DEPTH + 10) + "]" * (settings.JSON_MAX_DEPTH + 10)
    assert send(demo, token, deep).status_code == 400
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_cross_origin_caller_the_bot_does_not_allow_is_refused(demo: Bot) -> None:
    demo.allowed_origins = "https://shop.example"
    demo.save()
    token = sdk_token(demo)
    refused = send(demo, token, hello(), HTTP_ORIGIN="https://elsewhere.example")
    assert refused.status_code == 403
    allowed = send(demo, token, hello(), HTTP_ORIGIN="https://shop.example")
    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == "https://shop.example"
