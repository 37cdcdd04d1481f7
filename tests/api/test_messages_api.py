"""Send and receive over real HTTP against a running server and its emulated bot."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from tests.client import ChatUser


def bot_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages if m["role"] == "bot"]


def test_hello_gets_the_demo_bots_greeting(live_server_url: str) -> None:
    user = ChatUser(live_server_url)
    sent = user.send(text="hello")
    assert sent.status_code == 202
    assert sent.json()["message"]["status"] == "accepted"
    received = user.wait_for(lambda m: m["role"] == "bot")
    assert any("hello" in text.lower() or "hi" in text.lower() for text in bot_texts(received))


def test_the_same_client_message_id_is_stored_and_forwarded_once(live_server_url: str) -> None:
    user = ChatUser(live_server_url)
    first = user.send("dup-1", text="only once please")
    again = user.send("dup-1", text="only once please")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["message"]["id"] == first.json()["message"]["id"]
    user.wait_for(lambda m: "only once please" in m["text"] and m["role"] == "bot")
    # A marker sent after it: a conversation's messages are forwarded in order, so once the
    # marker's answer is here, a duplicate forward of the first would be too.
    user.send("marker-1", text="the marker")
    user.wait_for(lambda m: "the marker" in m["text"] and m["role"] == "bot")
    history = user.history()
    assert [m["clientMessageId"] for m in history if m["role"] == "user"] == ["dup-1", "marker-1"]
    assert len([t for t in bot_texts(history) if "only once please" in t]) == 1


def test_a_waiting_poll_is_woken_by_the_bots_reply(live_server_url: str) -> None:
    user = ChatUser(live_server_url)
    cursor = user.send(text="wake me").json()["cursor"]
    answers: list[dict[str, Any]] = []
    poller = threading.Thread(target=lambda: answers.append(user.poll(after=cursor, wait=20)))
    started = time.monotonic()
    poller.start()
    poller.join(25)
    assert time.monotonic() - started < 5
    assert any("wake me" in m["text"] for m in answers[0]["messages"])


def test_it_answers_an_empty_list_when_nothing_arrives(live_server_url: str) -> None:
    user = ChatUser(live_server_url)
    started = time.monotonic()
    answer = user.poll(after=0, wait=1)
    assert answer == {"messages": [], "cursor": 0, "pending": False}
    assert time.monotonic() - started >= 1


def test_history_comes_back_oldest_first_with_increasing_ids(live_server_url: str) -> None:
    user = ChatUser(live_server_url)
    for text in ("first", "second", "third"):
        user.send(text=text)
    user.wait_for(lambda m: m["role"] == "bot" and "third" in m["text"])
    history = user.history()
    ids = [m["id"] for m in history]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [m["text"] for m in history if m["role"] == "user"] == ["first", "second", "third"]
    echoes = [t for t in bot_texts(history) if any(w in t for w in ("first", "second", "third"))]
    assert [next(w for w in ("first", "second", "third") if w in t) for t in echoes] == [
        "first",
        "second",
        "third",
    ]


def test_two_identities_never_see_each_others_messages(live_server_url: str) -> None:
    alice, bob = ChatUser(live_server_url), ChatUser(live_server_url)
    alice.send(text="alice's secret")
    alice.wait_for(lambda m: m["role"] == "bot")
    assert bob.history() == []
    assert bob.poll(after=0, wait=1)["messages"] == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"text": "no id"}, "invalid_request"),
        ({"clientMessageId": "x1", "text": "   "}, "invalid_request"),
        ({"clientMessageId": "x2", "text": "a", "event": "ON_CONNECT"}, "invalid_request"),
        ({"clientMessageId": "x3"}, "invalid_request"),
        ({"clientMessageId": "x4", "event": "REBOOT"}, "invalid_request"),
        ({"clientMessageId": "x5", "postback": {"title": "no payload"}}, "invalid_request"),
    ],
)
def test_bad_send_bodies_get_a_clear_error_and_store_nothing(
    live_server_url: str, body: dict[str, Any], code: str
) -> None:
    user = ChatUser(live_server_url)
    answer = user.http.post("/api/v1/messages", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["message"]
    assert user.history() == []


def test_malformed_json_and_wrong_content_types_are_refused(live_server_url: str) -> None:
    user = ChatUser(live_server_url)
    broken = user.http.post(
        "/api/v1/messages", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (broken.status_code, broken.json()["error"]["code"]) == (400, "malformed_body")
    xml = user.http.post(
        "/api/v1/messages", content=b"<text/>", headers={"Content-Type": "application/xml"}
    )
    assert (xml.status_code, xml.json()["error"]["code"]) == (415, "unsupported_media_type")
    assert user.history() == []


def test_calls_without_a_valid_token_are_refused(live_server_url: str) -> None:
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        for method in ("GET", "POST"):
            answer = httpx.request(
                method,
                f"{live_server_url}/api/v1/messages",
                headers=headers,
                json={"text": "x", "clientMessageId": "y"} if method == "POST" else None,
            )
            assert answer.status_code == 401
            assert answer.json()["error"]["code"] == "invalid_token"


def test_health_and_readiness(live_server_url: str) -> None:
    assert httpx.get(f"{live_server_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{live_server_url}/readyz").json()["status"] == "ready"
