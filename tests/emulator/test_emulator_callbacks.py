"""Asynchronous channels: the emulator POSTs bot messages to POST_URL over real loopback HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.emulator.test_emulator import USER, body, channel, say, send
from webclient.emulator.callbacks import dispatcher
from webclient.emulator.faults import injector
from webclient.emulator.models import EmulatedWebhook
from webclient.emulator.state import state

pytestmark = pytest.mark.django_db


class Receiver(ThreadingHTTPServer):
    """A loopback POST_URL that keeps every body and answers the queued statuses, then 200."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[dict[str, Any]] = []
        self.statuses: list[int] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/kore/demo/secret/"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.reset()
    injector.clear()
    yield server
    dispatcher.wait_idle(10)
    server.shutdown()
    server.server_close()


def async_channel(version: int, receiver: Receiver) -> EmulatedWebhook:
    webhook = channel(version, is_async=True)
    webhook.post_url = receiver.url
    webhook.save()
    return webhook


def test_v1_async_acknowledges_at_once_then_posts_text_and_task_end_separately(
    receiver: Receiver,
) -> None:
    webhook = async_channel(1, receiver)
    response = say(webhook, "hello")
    # Kore: "an acknowledgement response ... with Status Code as 200", no body shown.
    assert (response.status_code, response.content) == (200, b"")
    assert dispatcher.wait_idle(10)
    text, task_end = receiver.bodies
    assert text == {"to": USER, "from": webhook.bot_id, "text": "Hello! Nice to meet you."}
    assert task_end["to"] == USER
    assert task_end["endOfTask"] is True
    assert task_end["completedTaskName"] == "Greeting"
    assert "text" not in task_end


def test_v2_async_acknowledges_then_posts_each_message_in_order(receiver: Receiver) -> None:
    webhook = async_channel(2, receiver)
    started = time.monotonic()
    ack = say(webhook, "slow 1").json()
    assert time.monotonic() - started < 0.5
    assert ack["status"] == "ok"
    assert ack["_v"] == "v2"
    assert ack["traceId"].startswith("RTM-TRACE-")
    assert dispatcher.wait_idle(10)
    *messages, task_end = receiver.bodies
    vals = [b["data"][0]["val"] for b in messages]
    assert vals == ["Working on it, this takes 1 s…", "Halfway there…", "Done after 1 s."]
    # Kore's documented POST_URL body: no recipient, no messageId.
    assert all(set(b) == {"data", "_v"} and b["_v"] == "v2" for b in messages)
    assert all(set(b["data"][0]) == {"type", "val", "createdOn"} for b in messages)
    # "...delivered as a separate message."
    assert task_end["endOfTask"] is True and "data" not in task_end


def test_a_v1_channel_can_acknowledge_with_a_json_body(receiver: Receiver) -> None:
    webhook = async_channel(1, receiver)
    webhook.v1_ack_body = "json"
    webhook.save()
    assert say(webhook, "hello").json() == {"status": "ok"}


def test_a_v2_channel_can_name_the_user_in_its_callbacks(receiver: Receiver) -> None:
    webhook = async_channel(2, receiver)
    webhook.callback_names_user = True
    webhook.save()
    say(webhook, "hello")
    assert dispatcher.wait_idle(10)
    assert all(b["to"] == USER and b["from"] == webhook.bot_id for b in receiver.bodies)


def test_async_failures_are_answered_synchronously(receiver: Receiver) -> None:
    webhook = async_channel(2, receiver)
    assert say(webhook, "fail 503").status_code == 503
    assert dispatcher.wait_idle(5)
    assert receiver.bodies == []


def test_a_callback_answered_with_5xx_is_retried(receiver: Receiver) -> None:
    webhook = async_channel(2, receiver)
    receiver.statuses = [500]
    send(webhook, body(webhook, "ping"))
    assert dispatcher.wait_idle(10)
    texts = [b["data"][0]["val"] for b in receiver.bodies if "data" in b]
    assert texts == ["You said: ping"] * 2
    assert [c["status"] for c in state.callbacks(webhook.bot_id, USER)] == [500, 200, 200]
