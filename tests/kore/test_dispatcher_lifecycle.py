"""The dispatcher's lifecycle: `run` on the caller's loop (`manage.py relay`) or `start` on a
thread of its own (a web worker's), `stop(grace)` that claims nothing more and lets what is
in flight finish within the grace, `shutdown` that waits for the thread, and a start again.

The bot is a loopback server that holds each call until the test lets it answer.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from webclient import services
from webclient.delivery import notifier
from webclient.kore import dispatcher as embedded
from webclient.kore.dispatcher import Dispatcher, wake
from webclient.models import Bot, Message

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

ANSWER = {"data": [{"type": "text", "val": "answered", "messageId": "m-1"}]}


class HeldPlatform(ThreadingHTTPServer):
    """Answers each call once `release` is set; `received` counts the calls that came."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Held)
        self.release = threading.Event()
        self.received = threading.Semaphore(0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Held(BaseHTTPRequestHandler):
    server: HeldPlatform

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.release()
        self.server.release.wait(30)
        content = json.dumps(ANSWER).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def platform(settings: SettingsWrapper) -> Iterator[HeldPlatform]:
    # This process's own dispatcher stays out of the way: each test runs one of its own.
    settings.KORE_DISPATCHER = False
    assert embedded.dispatcher.shutdown(grace=0)
    settings.KORE_ALLOW_LOOPBACK_UPSTREAM = True
    settings.KORE_MAX_RETRIES = 0
    server = HeldPlatform()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Bot.objects.filter(slug="demo").update(upstream_url=server.url)
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def relay() -> Iterator[Dispatcher]:
    dispatcher = Dispatcher()
    yield dispatcher
    assert dispatcher.shutdown(grace=0)


def accept(text: str, identity: str) -> Message:
    message, _ = services.user_message_accept(
        bot=Bot.objects.get(slug="demo"),
        identity=identity,
        body={"text": text},
        client_message_id=str(uuid.uuid4()),
    )
    return message


def status(message: Message) -> str:
    return str(Message.objects.get(pk=message.pk).status)


def test_run_forwards_what_waits_on_the_callers_loop_and_ends_when_stopped(
    platform: HeldPlatform,
) -> None:
    message = accept("hello", "run")
    platform.release.set()
    dispatcher = Dispatcher()

    async def main() -> None:
        running = asyncio.create_task(dispatcher.run())
        # Its first look at the outbox finds the message.
        assert await asyncio.to_thread(platform.received.acquire, True, 10)
        while await asyncio.to_thread(status, message) != Message.Status.SENT:
            await asyncio.sleep(0.05)
        dispatcher.stop(grace=5)
        await asyncio.wait_for(running, 10)

    asyncio.run(main())
    assert not dispatcher.running
    assert Message.objects.filter(role=Message.Role.BOT, text="answered").count() == 1


def test_stop_lets_the_forward_in_flight_finish_and_claims_nothing_more(
    platform: HeldPlatform, relay: Dispatcher
) -> None:
    relay.start()
    first = accept("first", "drain")
    relay.kick(first.conversation_id)
    assert platform.received.acquire(timeout=10)
    queued = accept("queued", "drain")
    relay.kick(queued.conversation_id)
    relay.stop(grace=30)
    # Still draining: the platform has not answered yet.
    assert not relay.wait_ended(0)
    platform.release.set()
    assert relay.wait_ended(10)
    assert status(first) == Message.Status.SENT
    assert status(queued) == Message.Status.ACCEPTED
    # Claimed by nobody, and its conversation let go of: the next dispatcher serves it.
    assert Message.objects.get(pk=queued.pk).forward_started_at is None
    relay.start()
    relay.kick(queued.conversation_id)
    assert platform.received.acquire(timeout=10)
    assert relay.shutdown(grace=10)
    assert status(queued) == Message.Status.SENT


def test_a_forward_still_in_flight_after_the_grace_is_left_to_the_lease_rules(
    platform: HeldPlatform, relay: Dispatcher
) -> None:
    relay.start()
    message = accept("held", "grace")
    relay.kick(message.conversation_id)
    assert platform.received.acquire(timeout=10)
    assert relay.shutdown(grace=0.2)
    # Claimed, never answered: its lease lapses and it is failed visibly, as when a process
    # dies mid-call (never sent twice).
    held = Message.objects.get(pk=message.pk)
    assert (held.status, held.forward_started_at is not None) == (Message.Status.ACCEPTED, True)


def test_kick_does_nothing_to_a_dispatcher_that_is_not_running() -> None:
    dispatcher = Dispatcher()
    dispatcher.kick(1)
    dispatcher.stop(grace=0)
    assert not dispatcher.running
    assert dispatcher.wait_ended(0)


def test_without_the_dispatcher_an_accepted_message_wakes_the_relay_processes_hooks(
    platform: HeldPlatform,
) -> None:
    conversation = services.conversation_get_or_create(
        bot=Bot.objects.get(slug="demo"), identity="hooks"
    )
    told = threading.Event()

    def hook(conversation_id: int | None) -> None:
        if conversation_id == conversation.pk:
            told.set()

    notifier.on_outbox(hook)
    notifier.start()  # as `manage.py relay` does
    try:
        # Through PostgreSQL or Redis, the listener hears it once connected.
        for _ in range(200):
            if notifier.listening():
                break
            told.wait(0.05)
        message = accept("hello", "hooks")
        assert told.wait(10)
        # This process runs no dispatcher: nothing started, the message waits.
        assert wake in services._accepted_hooks
        assert not embedded.dispatcher.running
        assert status(message) == Message.Status.ACCEPTED
    finally:
        notifier._outbox_hooks.remove(hook)
