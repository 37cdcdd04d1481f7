"""The relay end to end, over real loopback HTTP: every mode of the four demo bots against the
embedded emulator, each kind of message and each upstream failure.

Each test checks what the user finally holds (nothing lost, duplicated or reordered) and,
through the emulator's record, that the bot got each message exactly once. One server serves
the module, with its own API rate limits off and a short retry back-off.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.client import ChatUser
from tests.forms.test_forms import FULL_NAME, data, valid
from tests.relay_helpers import (
    Messages,
    add_unreachable_bots,
    emulator_record,
    fail_next,
    final_history,
    has_bot_text,
    of_role,
    relay_server,
    sent_messages,
    texts,
    utterance,
)
from webclient.kore.dispatcher import SCAN_INTERVAL

MODES = ["demo", "demo-v1-sync", "demo-v1-async", "demo-v2-async"]
ASYNC = {"demo-v1-async", "demo-v2-async"}
V1 = {"demo-v1-sync", "demo-v1-async"}
GREETING = "Hello! Nice to meet you."
RETRIES = 3  # the default KORE_MAX_RETRIES


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # The emulator's sync cut-off at 3 s keeps the "15 s timeout" case short.
    server = relay_server(
        tmp_path_factory.mktemp("relay") / "db.sqlite3", KORE_EMULATOR_SYNC_TIMEOUT="3"
    )
    server.migrate()
    add_unreachable_bots(server)
    server.start()
    yield server.url
    server.stop()


def settled(base_url: str, user: ChatUser, bot: str, done: Any, timeout: float = 20) -> Messages:
    """The final history, read again once every queued callback went out (late duplicates)."""
    final_history(user, done, timeout)
    emulator_record(base_url, user.identity, wait=5 if bot in ASYNC else 0)
    return final_history(user, done, timeout)


def exchange(
    base_url: str, bot: str, done: Any, timeout: float = 20, **message: Any
) -> tuple[ChatUser, Messages]:
    """A new user of the bot sends this message; the user and the settled history."""
    user = ChatUser(base_url, bot)
    user.send(**message)
    return user, settled(base_url, user, bot, done, timeout)


def assert_once_each(messages: Messages) -> None:
    ids = [m["id"] for m in messages]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


@pytest.mark.parametrize("bot", MODES)
def test_a_text_is_forwarded_once_and_answered(base_url: str, bot: str) -> None:
    user = ChatUser(base_url, bot)
    assert user.send(text="hello").status_code == 202
    history = settled(base_url, user, bot, has_bot_text(GREETING))
    assert [(m["role"], m["text"]) for m in history] == [("user", "hello"), ("bot", GREETING)]
    assert history[0]["status"] == "sent"
    assert [utterance(m) for m in sent_messages(emulator_record(base_url, user.identity))] == [
        "hello"
    ]


@pytest.mark.parametrize("bot", MODES)
def test_a_postback_sends_its_payload_and_shows_its_title(base_url: str, bot: str) -> None:
    user, history = exchange(
        base_url, bot, has_bot_text(GREETING), postback={"payload": "hello", "title": "Say hello"}
    )
    assert [(m["role"], m["text"]) for m in history] == [("user", "Say hello"), ("bot", GREETING)]
    assert [utterance(m) for m in sent_messages(emulator_record(base_url, user.identity))] == [
        "hello"
    ]


@pytest.mark.parametrize("bot", MODES)
def test_a_digital_form_arrives_and_its_submission_is_answered(base_url: str, bot: str) -> None:
    user, history = exchange(
        base_url, bot, lambda ms: any(m["kind"] == "form" for m in ms), text="form"
    )
    form = next(m for m in history if m["kind"] == "form")["data"]["form"]
    submit = {
        "formId": form["formDef"]["_id"],
        "data": data({**valid(), FULL_NAME: "Ada Lovelace"}),
    }
    user.send(formData=submit)
    history = settled(base_url, user, bot, has_bot_text("Ada Lovelace"))
    assert [m["kind"] for m in of_role(history, "user")] == ["text", "form"]
    assert len(of_role(history, "bot")) == 2
    assert texts(history)[-1].startswith("Thanks,")
    forwarded = sent_messages(emulator_record(base_url, user.identity))
    assert len(forwarded) == 2
    assert forwarded[1].get("formData", forwarded[1].get("val"))["formId"] == submit["formId"]


@pytest.mark.parametrize("bot", [b for b in MODES if b not in V1])
def test_the_welcome_event_opens_the_session_and_brings_the_welcome(
    base_url: str, bot: str
) -> None:
    user, history = exchange(base_url, bot, has_bot_text("demo bot"), event="ON_CONNECT")
    assert [m["role"] for m in history] == ["user", "bot"]
    assert history[0]["kind"] == "event"
    (body,) = emulator_record(base_url, user.identity)["received"]
    assert body["session"] == {"new": True}
    assert body["message"] == {"type": "event", "val": "ON_CONNECT"}
    assert body["from"]["id"] == user.identity


@pytest.mark.parametrize("bot", sorted(V1))
def test_a_v1_bot_is_sent_no_event_and_its_first_message_opens_the_session(
    base_url: str, bot: str
) -> None:
    # Kore's V1 table: events "Not supported". The widget shows the bot's welcome text.
    user = ChatUser(base_url, bot)
    opening = user.send(event="ON_CONNECT").json()["message"]["id"]
    history = settled(base_url, user, bot, lambda ms: ms[0]["status"] == "sent")
    assert [(m["id"], m["role"]) for m in history] == [(opening, "user")]
    user.send(text="hello")
    settled(base_url, user, bot, has_bot_text(GREETING))
    (body,) = emulator_record(base_url, user.identity)["received"]
    assert (body["session"], body["message"]) == ({"new": True}, {"text": "hello"})


@pytest.mark.parametrize("bot", MODES)
def test_a_slow_answer_arrives_whole_and_in_order(base_url: str, bot: str) -> None:
    user, history = exchange(base_url, bot, has_bot_text("Done after 1 s."), text="slow 1")
    assert texts(history) == ["Working on it, this takes 1 s…", "Halfway there…", "Done after 1 s."]
    assert len(emulator_record(base_url, user.identity)["received"]) == 1


def test_each_message_is_forwarded_on_its_own_wake_up_not_at_the_next_outbox_scan(
    base_url: str,
) -> None:
    # The scan runs every SCAN_INTERVAL (15 s here): of two messages sent one after the other,
    # at most one could be answered this soon by a scan.
    user = ChatUser(base_url, "demo")
    for word in ["one", "two"]:
        user.send(text=f"ping {word}")
        final_history(user, has_bot_text(f"You said: ping {word}"), timeout=SCAN_INTERVAL / 3)


@pytest.mark.parametrize("bot", MODES)
def test_messages_sent_in_a_burst_reach_the_bot_once_each_in_order(base_url: str, bot: str) -> None:
    user = ChatUser(base_url, bot)
    words = ["first", "second", "third"]
    for word in words:
        user.send(text=word)
    history = settled(base_url, user, bot, has_bot_text("You said: third"))
    assert texts(history, "user") == words
    assert texts(history) == [f"You said: {word}" for word in words]
    assert_once_each(history)
    forwarded = sent_messages(emulator_record(base_url, user.identity))
    assert [utterance(m) for m in forwarded] == words


@pytest.mark.parametrize("bot", MODES)
def test_ending_the_session_is_confirmed_and_the_next_message_opens_a_new_one(
    base_url: str, bot: str
) -> None:
    user, _ = exchange(base_url, bot, has_bot_text(GREETING), text="hello")
    closing = user.send(event="SESSION_CLOSURE").json()["message"]["id"]
    history = settled(base_url, user, bot, lambda ms: bool(of_role(ms, "system")))
    (notice,) = of_role(history, "system")
    assert notice["data"]["refersTo"] == closing
    assert notice["data"]["status"] == "closed"
    assert notice["kind"] == "event"
    user.send(text="hello")
    settled(base_url, user, bot, lambda ms: texts(ms).count(GREETING) == 2)
    sessions = [b["session"] for b in emulator_record(base_url, user.identity)["received"]]
    if bot in V1:
        # V1 is sent no SESSION_CLOSURE: the next message asks for a new session itself.
        assert sessions == [{"new": True}, {"new": True}]
    else:
        assert sessions == [{"new": True}, {"new": False}, {"new": True}]


FAILURES = [
    # status, what the user reads, how many calls the bot saw
    (401, "credentials", 1),
    (429, "too many messages", 1 + RETRIES),
    (500, "had a problem", 1 + RETRIES),
    (503, "had a problem", 1 + RETRIES),
    (504, "did not answer in time", 1),
]


def assert_failed_visibly(history: Messages, reason: str) -> None:
    user_message, notice = history
    assert (user_message["role"], user_message["status"]) == ("user", "failed")
    assert notice["role"] == "system" and notice["kind"] == "error"
    assert notice["data"]["refersTo"] == user_message["id"]
    assert notice["data"]["status"] == "failed"
    assert reason in notice["text"].lower()


@pytest.mark.parametrize("bot", MODES)
@pytest.mark.parametrize(("status", "reason", "calls"), FAILURES)
def test_an_upstream_failure_ends_in_a_visible_failed_state(
    base_url: str, bot: str, status: int, reason: str, calls: int
) -> None:
    user, history = exchange(
        base_url, bot, lambda ms: bool(of_role(ms, "system")), timeout=30, text=f"fail {status}"
    )
    assert_failed_visibly(history, reason)
    record = emulator_record(base_url, user.identity)
    assert [r["status"] for r in record["requests"]] == [status] * calls
    assert record["received"] == []


@pytest.mark.parametrize("bot", MODES)
def test_an_unreachable_platform_is_retried_then_reported(base_url: str, bot: str) -> None:
    user = ChatUser(base_url, f"{bot}-down")
    user.send(text="hello")
    history = settled(base_url, user, bot, lambda ms: bool(of_role(ms, "system")))
    assert_failed_visibly(history, "could not be reached")


@pytest.mark.parametrize("bot", MODES)
def test_a_transient_503_is_retried_and_the_message_arrives_once(base_url: str, bot: str) -> None:
    user, _ = exchange(base_url, bot, has_bot_text(GREETING), text="hello")
    bot_id = emulator_record(base_url, user.identity)["requests"][0]["bot"]
    fail_next(base_url, bot_id, 503)
    user.send(text="again")
    history = settled(base_url, user, bot, has_bot_text("You said: again"))
    assert texts(history) == [GREETING, "You said: again"]
    assert not of_role(history, "system")
    record = emulator_record(base_url, user.identity)
    assert [r["status"] for r in record["requests"]] == [200, 503, 200]
    assert [utterance(m) for m in sent_messages(record)] == ["hello", "again"]


def test_a_429_retry_waits_at_least_what_retry_after_asks(base_url: str) -> None:
    user = ChatUser(base_url, "demo")
    user.send(text="hello")
    settled(base_url, user, "demo", has_bot_text(GREETING))
    bot_id = emulator_record(base_url, user.identity)["requests"][0]["bot"]
    fail_next(base_url, bot_id, 429, retryAfter=2)
    started = time.monotonic()
    user.send(text="patience")
    history = settled(base_url, user, "demo", has_bot_text("You said: patience"))
    assert time.monotonic() - started >= 2
    assert texts(history) == [GREETING, "You said: patience"]


def test_a_v1_sync_answer_beyond_the_platforms_time_limit_fails_without_a_resend(
    base_url: str,
) -> None:
    user = ChatUser(base_url, "demo-v1-sync")
    user.send(text="slow 5")
    history = settled(base_url, user, "demo-v1-sync", lambda ms: bool(of_role(ms, "system")))
    assert_failed_visibly(history, "did not answer in time")
    assert [r["status"] for r in emulator_record(base_url, user.identity)["requests"]] == [200]
