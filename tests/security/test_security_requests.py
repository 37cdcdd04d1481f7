"""Requests that must be refused: other people's conversations, oversized or malformed
bodies, bursts over the rate limits, wrong callback secrets, disallowed upstreams."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from webclient import services
from webclient.kore.payloads import BotItem
from webclient.models import Bot, Conversation, Message
from webclient.sts import token_issue


@pytest.fixture(autouse=True)
def quiet_relay(settings: SettingsWrapper) -> None:
    # Nothing is forwarded upstream: these tests are about what reaches the store.
    settings.KORE_DISPATCHER = False
    settings.LONGPOLL_MAX_WAIT = 0


def client_for(identity: str, bot: str = "demo") -> APIClient:
    bot_row = Bot.objects.get(slug=bot)
    token = token_issue(bot=bot_row, identity=identity, anonymous=False, proof="browser").jwt
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def send(client: APIClient, body: Any, **extra: Any) -> Any:
    return client.post("/api/v1/messages", body, format="json", **extra)


def text(value: str) -> dict[str, str]:
    return {"text": value, "clientMessageId": str(uuid.uuid4())}


def assert_error(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.content
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error


# Isolation: the long-poll reads through its own database threads, so these tests commit.
isolated = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def bobs_secret_message() -> Message:
    bot = Bot.objects.get(slug="demo")
    conversation = services.conversation_get_or_create(bot=bot, identity="bob")
    stored = services.bot_messages_store(conversation=conversation, items=[BotItem("bob's secret")])
    return stored[0]


def visible_texts(client: APIClient, after: int) -> list[str]:
    answer = client.get(f"/api/v1/messages?after={after}&wait=0")
    assert answer.status_code == 200
    return [m["text"] for m in answer.json()["messages"]]


@isolated
def test_a_token_for_alice_never_reads_bobs_conversation() -> None:
    secret = bobs_secret_message()
    alice = client_for("alice")
    assert visible_texts(alice, 0) == []
    # A cursor guessed from bob's message ids reveals nothing either.
    for guess in (secret.pk - 1, secret.pk, secret.pk + 1):
        assert visible_texts(alice, guess) == []
    assert visible_texts(client_for("bob"), 0) == ["bob's secret"]


@isolated
def test_a_token_for_alice_posts_only_into_alices_conversation() -> None:
    bobs_secret_message()
    answer = send(client_for("alice"), text("hello from alice"))
    assert answer.status_code == 202
    assert visible_texts(client_for("bob"), 0) == ["bob's secret"]
    assert visible_texts(client_for("alice"), 0) == ["hello from alice"]


@isolated
def test_the_same_identity_on_another_bot_is_another_conversation() -> None:
    bobs_secret_message()
    assert visible_texts(client_for("bob", bot="demo-v1-sync"), 0) == []


@pytest.mark.django_db
def test_a_guessed_message_route_is_not_found_rather_than_forbidden() -> None:
    secret_id = 1
    answer = client_for("alice").get(f"/api/v1/messages/{secret_id}")
    assert answer.status_code == 404


# Bodies


@pytest.mark.django_db
def test_an_oversized_body_is_refused_with_413_before_it_is_parsed() -> None:
    big = text("x" * 70_000)
    assert_error(send(client_for("alice"), big), 413, "body_too_large")
    answer = APIClient().post("/api/v1/sts", {"identity": "y" * 70_000}, format="json")
    assert_error(answer, 413, "body_too_large")


@pytest.mark.django_db
def test_a_body_just_under_the_cap_is_judged_on_its_content() -> None:
    answer = send(client_for("alice"), text("x" * 60_000))
    error = assert_error(answer, 400, "invalid_request")
    assert "text" in error["message"]


@pytest.mark.django_db
def test_a_deeply_nested_body_is_refused_with_400() -> None:
    for opener, closer in (("[", "]"), ('{"a":', "}")):
        deep = opener * 5000 + "1" + closer * 5000
        answer = client_for("alice").post("/api/v1/messages", deep, content_type="application/json")
        assert_error(answer, 400, "too_deeply_nested")


@pytest.mark.django_db
def test_nesting_within_the_cap_is_parsed_and_brackets_in_strings_do_not_count() -> None:
    nested: Any = "leaf [[[[{{{{"
    for _ in range(60):
        nested = [nested]
    body = {
        "formData": {"formId": "frm-1", "data": [{"componentId": "fct-1", "input": nested}]},
        "clientMessageId": "deep-but-fine",
    }
    answer = send(client_for("alice"), body)
    # Parsed: whatever the form rules then say, the parser raised no objection.
    assert answer.json().get("error", {}).get("code") not in ("too_deeply_nested", "malformed_body")


@pytest.mark.django_db
def test_malformed_json_is_refused_with_400() -> None:
    for raw in ("{", '{"text": "hi",}', "NaN", "\xff\xfe", '{"text": NaN}'):
        answer = client_for("alice").post("/api/v1/messages", raw, content_type="application/json")
        assert_error(answer, 400, "malformed_body")


@pytest.mark.django_db
def test_an_unknown_charset_is_bad_input_not_a_server_error() -> None:
    answer = client_for("alice").post(
        "/api/v1/messages", b'{"text":"hi"}', content_type="application/json; charset=klingon"
    )
    assert answer.status_code == 400


@pytest.mark.django_db
def test_a_wrong_content_type_is_refused_with_415() -> None:
    for content_type in ("text/plain", "application/xml", "multipart/form-data; boundary=x"):
        answer = client_for("alice").post("/api/v1/messages", "text=hi", content_type=content_type)
        assert_error(answer, 415, "unsupported_media_type")


@pytest.mark.django_db
def test_a_json_body_that_is_not_an_object_is_refused_with_400() -> None:
    not_objects: list[Any] = [[], "hi", 3, None]
    for body in not_objects:
        raw = json.dumps(body)
        answer = client_for("alice").post("/api/v1/messages", raw, content_type="application/json")
        assert_error(answer, 400, "invalid_request")


@pytest.mark.django_db
def test_texts_longer_than_the_cap_are_refused() -> None:
    error = assert_error(send(client_for("alice"), text("x" * 4001)), 400, "invalid_request")
    assert error["message"].startswith("text:")
    postback = {"postback": {"payload": "p" * 4001}, "clientMessageId": "pb"}
    assert_error(send(client_for("alice"), postback), 400, "invalid_request")


@pytest.mark.django_db
def test_a_cursor_too_large_for_the_database_is_bad_input() -> None:
    answer = client_for("alice").get(f"/api/v1/messages?after={2**70}&wait=0")
    assert_error(answer, 400, "invalid_request")


# Rate limits


@pytest.mark.django_db
def test_a_burst_of_token_requests_from_one_address_is_limited(
    settings: SettingsWrapper,
) -> None:
    settings.RATELIMIT_STS_PER_IP = 5
    client = APIClient()
    answers = [client.post("/api/v1/sts", {}, format="json") for _ in range(7)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
    error = assert_error(answers[-1], 429, "rate_limited")
    retry_after = int(answers[-1]["Retry-After"])
    assert 1 <= retry_after <= settings.RATELIMIT_WINDOW
    assert str(retry_after) in error["message"]
    other_address = client.post("/api/v1/sts", {}, format="json", REMOTE_ADDR="127.0.0.9")
    assert other_address.status_code == 200


@pytest.mark.django_db
def test_refreshes_count_against_the_token_request_limit(settings: SettingsWrapper) -> None:
    settings.RATELIMIT_STS_PER_IP = 2
    client = client_for("alice")
    answers = [client.post("/api/v1/sts/refresh") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]


@pytest.mark.django_db
def test_a_burst_of_sends_by_one_identity_is_limited(settings: SettingsWrapper) -> None:
    settings.RATELIMIT_SEND_PER_IDENTITY = 3
    alice = client_for("alice")
    answers = [send(alice, text(f"m{i}")) for i in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert_error(answers[-1], 429, "rate_limited")
    assert answers[-1]["Retry-After"]
    # Someone else on the same address is not held back by alice's identity limit.
    assert send(client_for("bob"), text("hi")).status_code == 202


@pytest.mark.django_db
def test_a_burst_of_sends_from_one_address_across_identities_is_limited(
    settings: SettingsWrapper,
) -> None:
    settings.RATELIMIT_SEND_PER_IP = 3
    answers = [send(client_for(f"user-{i}"), text("hi")) for i in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]


@pytest.mark.django_db
def test_a_limit_of_zero_switches_the_rule_off(settings: SettingsWrapper) -> None:
    settings.RATELIMIT_STS_PER_IP = 0
    client = APIClient()
    assert all(client.post("/api/v1/sts", {}, format="json").status_code == 200 for _ in range(10))


@pytest.mark.django_db
def test_an_address_that_guesses_callback_secrets_is_refused_but_the_platform_is_not(
    settings: SettingsWrapper,
) -> None:
    settings.RATELIMIT_CALLBACK_REFUSALS_PER_IP = 2
    bot = Bot.objects.get(slug="demo-v1-async")
    body = json.dumps({"to": "nobody", "from": bot.bot_id, "text": "hi"})
    client = Client()

    def post(secret: str, address: str) -> HttpResponse:
        return client.post(  # type: ignore[return-value]
            f"/hooks/kore/{bot.slug}/{secret}/",
            body,
            content_type="application/json",
            REMOTE_ADDR=address,
        )

    assert [post("guess", "127.0.0.9").status_code for _ in range(2)] == [404, 404]
    refused = post("another-guess", "127.0.0.9")
    assert refused.status_code == 429
    assert json.loads(refused.content)["error"]["code"] == "rate_limited"
    assert refused["Retry-After"]
    # The platform's own address is unaffected, however much it delivers.
    assert all(post(bot.callback_secret, "127.0.0.1").status_code == 200 for _ in range(5))


@pytest.mark.django_db
def test_failed_guesses_from_the_platforms_address_never_throttle_its_real_deliveries(
    settings: SettingsWrapper,
) -> None:
    settings.RATELIMIT_CALLBACK_REFUSALS_PER_IP = 3
    bot = Bot.objects.get(slug="demo-v1-async")
    alice = Conversation.objects.create(bot=bot, identity="alice")
    client = Client()

    def post(secret: str, text: str) -> HttpResponse:
        return client.post(  # type: ignore[return-value]
            f"/hooks/kore/{bot.slug}/{secret}/",
            json.dumps({"to": "alice", "from": bot.bot_id, "text": text}),
            content_type="application/json",
            REMOTE_ADDR="127.0.0.7",
        )

    guesses = [post(f"guess-{n}", "forged").status_code for n in range(10)]
    assert guesses == [404] * 3 + [429] * 7
    delivered = [post(bot.callback_secret, f"reply {n}").status_code for n in range(3)]
    assert delivered == [200, 200, 200]
    assert list(alice.messages.values_list("text", flat=True)) == ["reply 0", "reply 1", "reply 2"]


# Callbacks and upstreams


@pytest.mark.django_db
def test_a_callback_with_a_wrong_secret_is_not_found() -> None:
    body = {"to": "alice", "from": "st-x", "text": "hi"}
    for path in ("/hooks/kore/demo-v1-async/wrong-secret/", "/hooks/kore/no-such-bot/x/"):
        answer = APIClient().post(path, body, format="json")
        assert_error(answer, 404, "not_found")


@pytest.mark.django_db
def test_a_callback_body_over_a_megabyte_is_refused_with_413() -> None:
    bot = Bot.objects.get(slug="demo-v1-async")
    body = {"to": "alice", "from": bot.bot_id, "text": "x" * (1024 * 1024)}
    answer = APIClient().post(f"/hooks/kore/{bot.slug}/{bot.callback_secret}/", body, format="json")
    assert answer.status_code == 413
    assert bot.callback_secret not in answer.content.decode()


@pytest.mark.django_db
def test_an_upstream_url_pointing_to_a_disallowed_host_is_refused(
    settings: SettingsWrapper,
) -> None:
    settings.DEBUG = False
    bot = Bot.objects.get(slug="demo")
    for url in ("http://169.254.169.254/latest", "http://127.0.0.1:6379", "https://evil.example"):
        bot.upstream_url = url
        with pytest.raises(ValidationError) as refused:
            bot.full_clean()
        assert "upstream_url" in refused.value.message_dict
