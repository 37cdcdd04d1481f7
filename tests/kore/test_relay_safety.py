"""In process: which upstreams a bot may call, the retry policy, and the callback endpoint."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from webclient import metrics, services
from webclient.kore import callbacks, outbox
from webclient.kore.client import Failure, KoreClient, KoreError, retry_delay
from webclient.kore.tokens import Credentials
from webclient.models import Bot, Conversation, Message, UndeliverableCallback
from webclient.security.upstream import UpstreamNotAllowed, check_upstream

KORE = ["bots.kore.ai", "platform.kore.ai", "*.kore-eu.example"]


@pytest.fixture
def production(settings: Any) -> Any:
    settings.DEBUG = False
    settings.KORE_ALLOW_LOOPBACK_UPSTREAM = False
    settings.KORE_UPSTREAM_HOSTS = KORE
    return settings


# Upstream allow-list


@pytest.mark.parametrize(
    "url",
    ["https://bots.kore.ai", "https://platform.kore.ai/", "https://de.kore-eu.example/api"],
)
def test_listed_kore_hosts_over_https_are_allowed(production: Any, url: str) -> None:
    check_upstream(url)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://evil.example", "not in KORE_UPSTREAM_HOSTS"),
        ("https://bots.kore.ai.evil.example", "not in KORE_UPSTREAM_HOSTS"),
        ("https://kore-eu.example", "not in KORE_UPSTREAM_HOSTS"),
        ("http://bots.kore.ai", "https"),
        ("https://user:pw@bots.kore.ai", "credentials"),
        ("https://bots.kore.ai/?x=1", "query"),
        ("ftp://bots.kore.ai", "an http"),
        ("http://127.0.0.1:8000", "loopback"),
        ("http://localhost", "loopback"),
        ("http://[::1]:80", "loopback"),
        ("", "emulator"),
    ],
)
def test_other_upstreams_are_refused_in_production(production: Any, url: str, why: str) -> None:
    with pytest.raises(UpstreamNotAllowed, match=why):
        check_upstream(url)


def test_loopback_and_the_emulator_are_allowed_in_debug_or_when_enabled(settings: Any) -> None:
    settings.DEBUG = True
    check_upstream("")
    check_upstream("http://127.0.0.1:9")
    settings.DEBUG = False
    settings.KORE_ALLOW_LOOPBACK_UPSTREAM = True
    check_upstream("")
    check_upstream("http://localhost:8000/emulator")


@pytest.mark.django_db
def test_the_admin_sees_why_an_upstream_is_refused(production: Any) -> None:
    bot = Bot.objects.get(slug="demo")
    bot.upstream_url = "https://internal.example"
    with pytest.raises(ValidationError) as raised:
        bot.full_clean()
    assert "KORE_UPSTREAM_HOSTS" in raised.value.message_dict["upstream_url"][0]
    bot.upstream_url = "https://bots.kore.ai"
    bot.full_clean()


def send_and_fail(bot: Bot) -> KoreError:
    """Send through a real client and return the KoreError it must raise."""

    async def call() -> None:
        client = KoreClient()
        try:
            await client.send(bot, {}, Credentials(bot, "alice"))
        finally:
            await client.aclose()

    with pytest.raises(KoreError) as raised:
        asyncio.run(call())
    return raised.value


def test_the_client_refuses_a_disallowed_upstream_before_any_connection(production: Any) -> None:
    bot = Bot(slug="x", bot_id="st-1", upstream_url="https://internal.example")

    raised = send_and_fail(bot)
    assert raised.failure is Failure.NOT_ALLOWED


# Retry policy


def test_back_off_grows_with_jitter_and_honours_retry_after(settings: Any) -> None:
    settings.KORE_RETRY_BASE_MS = 1000
    settings.KORE_RETRY_MAX_DELAY = 30
    for attempt, full in ((1, 1.0), (2, 2.0), (3, 4.0), (9, 30.0)):
        delays = {retry_delay(attempt, None) for _ in range(50)}
        assert all(d is not None and full / 2 <= d <= full for d in delays)
        assert len(delays) > 1
    assert retry_delay(1, 5.0) == 5.0
    assert retry_delay(1, 31.0) is None


@pytest.mark.parametrize(
    ("error", "post", "get"),
    [
        (KoreError("x", failure=Failure.HTTP, status=429), True, True),
        (KoreError("x", failure=Failure.HTTP, status=503), True, True),
        (KoreError("x", failure=Failure.HTTP, status=500), True, True),
        (KoreError("x", failure=Failure.HTTP, status=504), False, False),
        (KoreError("x", failure=Failure.HTTP, status=401), False, False),
        (KoreError("x", failure=Failure.HTTP, status=400), False, False),
        (KoreError("x", failure=Failure.CONNECT), True, True),
        (KoreError("x", failure=Failure.TIMEOUT), False, True),
        (KoreError("x", failure=Failure.NOT_ALLOWED), False, False),
    ],
)
def test_only_calls_the_platform_did_not_act_on_are_retried(
    error: KoreError, post: bool, get: bool
) -> None:
    assert error.retryable(idempotent=False) is post
    assert error.retryable(idempotent=True) is get


def test_a_refused_connection_is_retried_a_bounded_number_of_times(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.DEBUG = True
    settings.KORE_MAX_RETRIES = 2
    settings.KORE_RETRY_BASE_MS = 50
    caplog.set_level(logging.INFO, logger="webclient.kore.client")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    bot = Bot(
        slug="x", bot_id="st-1", client_secret="s" * 32, upstream_url=f"http://127.0.0.1:{port}"
    )

    raised = send_and_fail(bot)
    assert raised.failure is Failure.CONNECT
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert [r.args[4] for r in retries] == [1, 2]  # type: ignore[index]


# The callback endpoint


def hook(bot: Bot, secret: str | None = None) -> str:
    return f"/hooks/kore/{bot.slug}/{secret or bot.callback_secret}/"


def post(url: str, body: Any, **headers: Any) -> Any:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return Client(enforce_csrf_checks=True).post(
        url, data, content_type="application/json", **headers
    )


@pytest.fixture
def v1_bot(db: Any) -> Bot:
    return Bot.objects.get(slug="demo-v1-async")


@pytest.fixture
def conversation(v1_bot: Bot) -> Conversation:
    conversation = Conversation.objects.create(bot=v1_bot, identity="alice", pending=True)
    Message.objects.create(
        conversation=conversation, role="user", status="sent", forward_started_at=timezone.now()
    )
    return conversation


def bot_texts(conversation: Conversation) -> list[str]:
    return list(conversation.messages.filter(role="bot").values_list("text", flat=True))


def test_a_wrong_secret_or_unknown_bot_is_a_404_in_the_api_format(v1_bot: Bot) -> None:
    for url in (hook(v1_bot, "wrong"), "/hooks/kore/nope/whatever/"):
        answer = post(url, {"to": "alice", "text": "x"})
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"


def test_a_disabled_bot_takes_no_callbacks(v1_bot: Bot) -> None:
    Bot.objects.filter(pk=v1_bot.pk).update(enabled=False)
    assert post(hook(v1_bot), {"to": "alice", "text": "x"}).status_code == 404


def test_it_takes_no_csrf_token_and_no_bearer(conversation: Conversation, v1_bot: Bot) -> None:
    answer = post(hook(v1_bot), {"to": "alice", "from": v1_bot.bot_id, "text": "Hi there"})
    assert answer.status_code == 200
    assert answer.json()["status"] == "stored"
    assert bot_texts(conversation) == ["Hi there"]


def test_a_body_over_the_cap_is_refused_with_413(settings: Any, v1_bot: Bot) -> None:
    settings.KORE_CALLBACK_MAX_BYTES = 100
    answer = post(hook(v1_bot), {"to": "alice", "text": "x" * 200})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"


def test_malformed_bodies_are_a_400(v1_bot: Bot) -> None:
    assert post(hook(v1_bot), b"{nope").status_code == 400
    assert post(hook(v1_bot), [1, 2]).status_code == 400


def test_a_callback_for_an_unknown_user_creates_no_conversation_and_is_kept_for_the_admin(
    v1_bot: Bot,
) -> None:
    body = {"to": "stranger", "text": "psst"}
    answer = post(hook(v1_bot), body)
    assert (answer.status_code, answer.json()["status"]) == (200, "undeliverable")
    assert not Conversation.objects.filter(identity="stranger").exists()
    assert not Message.objects.filter(text="psst").exists()
    kept = UndeliverableCallback.objects.get(bot=v1_bot)
    assert (kept.reason, kept.recipient, kept.body) == ("unknown_user", "stranger", body)


def test_a_repeated_v1_delivery_is_stored_once(conversation: Conversation, v1_bot: Bot) -> None:
    body = {"to": "alice", "from": v1_bot.bot_id, "text": "Hello! Nice to meet you."}
    assert post(hook(v1_bot), body).json()["status"] == "stored"
    assert post(hook(v1_bot), body).json()["status"] == "duplicate"
    assert bot_texts(conversation) == ["Hello! Nice to meet you."]


def test_the_same_words_answering_a_later_user_message_are_stored_again(
    conversation: Conversation, v1_bot: Bot
) -> None:
    body = {"to": "alice", "from": v1_bot.bot_id, "text": "Hello! Nice to meet you."}
    post(hook(v1_bot), body)
    Message.objects.create(
        conversation=conversation, role="user", status="sent", forward_started_at=timezone.now()
    )
    assert post(hook(v1_bot), body).json()["status"] == "stored"
    assert bot_texts(conversation) == ["Hello! Nice to meet you."] * 2


def test_a_repeated_v1_delivery_after_the_window_is_stored_again(
    settings: Any, conversation: Conversation, v1_bot: Bot
) -> None:
    settings.KORE_CALLBACK_DEDUP_WINDOW = 0
    body = {"to": "alice", "text": "again"}
    post(hook(v1_bot), body)
    assert post(hook(v1_bot), body).json()["status"] == "stored"


def undeliverable_count(bot: Bot) -> float:
    """What /metrics says of this bot's undeliverable callbacks."""
    for family in text_string_to_metric_families(metrics.scrape().decode()):
        for sample in family.samples:
            if sample.name == "kore_chat_callbacks_total" and sample.labels == {
                "bot": bot.slug,
                "outcome": "undeliverable",
            }:
                return sample.value
    return 0.0


def awaiting(bot: Bot, identity: str) -> Conversation:
    conversation = Conversation.objects.create(bot=bot, identity=identity, pending=True)
    services.conversation_callback_awaited(
        conversation=conversation, until=timezone.now() + timedelta(minutes=5)
    )
    return conversation


def test_a_callback_naming_nobody_is_kept_when_two_conversations_wait_and_counted(
    db: Any,
) -> None:
    bot = Bot.objects.get(slug="demo-v2-async")
    first, second = awaiting(bot, "ann"), awaiting(bot, "ben")
    before = undeliverable_count(bot)
    body = {"data": [{"type": "text", "val": "Whose?", "createdOn": "x"}], "_v": "v2"}
    answer = post(hook(bot), body).json()
    assert (answer["status"], answer["reason"]) == ("undeliverable", "no_recipient")
    assert bot_texts(first) == bot_texts(second) == []
    kept = UndeliverableCallback.objects.get(bot=bot)
    assert (kept.reason, kept.recipient, kept.body) == ("no_recipient", "", body)
    assert undeliverable_count(bot) == before + 1
    # Once only one of them still waits, the same body is that conversation's.
    services.conversation_callback_done(conversation=second, all_of_them=True)
    assert post(hook(bot), body).json()["status"] == "stored"
    assert bot_texts(first) == ["Whose?"]
    assert undeliverable_count(bot) == before + 1


def test_a_repeated_v2_message_id_is_stored_once(db: Any) -> None:
    bot = Bot.objects.get(slug="demo-v2-async")
    conversation = Conversation.objects.create(bot=bot, identity="bob", pending=True)
    body = {
        "to": "bob",
        "from": bot.bot_id,
        "data": [{"type": "text", "val": "Once", "messageId": "ms-1", "createdOn": "x"}],
        "_v": "v2",
    }
    assert post(hook(bot), body).json() == {"status": "stored", "stored": 1, "reason": ""}
    assert post(hook(bot), body).json()["status"] == "duplicate"
    assert bot_texts(conversation) == ["Once"]


def test_a_task_end_only_callback_keeps_the_task_state_and_clears_pending(
    conversation: Conversation, v1_bot: Bot
) -> None:
    body = {"to": "alice", "endOfTask": True, "endReason": "Fulfilled", "completedTaskName": "G"}
    assert post(hook(v1_bot), body).json()["status"] == "stored"
    conversation.refresh_from_db()
    assert conversation.pending is False
    assert conversation.task_state == {
        "endOfTask": True,
        "endReason": "Fulfilled",
        "completedTaskName": "G",
    }
    assert bot_texts(conversation) == []


def test_pending_stays_on_while_another_message_waits_to_be_forwarded(
    conversation: Conversation, v1_bot: Bot
) -> None:
    Message.objects.create(conversation=conversation, role="user", status="accepted")
    post(hook(v1_bot), {"to": "alice", "text": "first answer"})
    conversation.refresh_from_db()
    assert conversation.pending is True
    outbox.conversation_settle(conversation=conversation)
    assert conversation.pending is True


def test_no_data_found_on_a_poll_is_recognised_as_the_end_of_a_chain() -> None:
    assert KoreError("No data found", failure=Failure.HTTP, status=400).no_data
    assert not KoreError("Invalid Request Payload", failure=Failure.HTTP, status=400).no_data


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_deliveries_of_one_v1_body_are_stored_once() -> None:
    """Eight threads deliver the same body at once, each in its own transaction: the unique
    key lets exactly one store it (on PostgreSQL the transactions really overlap)."""
    bot = Bot.objects.get(slug="demo-v1-async")
    conversation = Conversation.objects.create(bot=bot, identity="carol", pending=True)
    Message.objects.create(
        conversation=conversation, role="user", status="sent", forward_started_at=timezone.now()
    )
    body = {"to": "carol", "from": bot.bot_id, "text": "Only once, please."}
    start = threading.Barrier(8)

    def deliver() -> str:
        try:
            start.wait()
            return callbacks.receive(bot, body).status
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(lambda _: deliver(), range(8)))
    assert outcomes == ["duplicate"] * 7 + ["stored"]
    assert bot_texts(conversation) == ["Only once, please."]
