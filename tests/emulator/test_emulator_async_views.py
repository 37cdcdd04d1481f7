"""The emulator's async views run in the event loop of the ASGI application the server runs:
a reply that waits holds no thread while it waits."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import traceback
from collections.abc import Mapping
from typing import Any

import pytest

from kore_chat.asgi import application
from tests.emulator.test_emulator import body, channel, token, url
from webclient.emulator.state import state

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

SLOW_REPLIES = 3


def threads_waiting_for_the_event_loop() -> list[int]:
    """Threads blocked in asgiref's async_to_sync: each holds a request while an async view
    runs (a thread running sync code has asgiref's thread_handler on its stack instead)."""
    waiting = []
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        for entry in traceback.extract_stack(frame):
            if entry.filename.endswith("asgiref/sync.py") and entry.name == "__call__":
                waiting.append(ident)
                break
    return waiting


def slow_reply_scope(path: str, bearer: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "query_string": b"",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"authorization", f"bearer {bearer}".encode()),
        ],
    }


async def slow_replies_and_threads_meanwhile() -> tuple[list[int], list[list[Mapping[str, Any]]]]:
    webhook = await asyncio.to_thread(channel, 1)
    path = url(webhook)
    users = [f"waiting-{n}" for n in range(SLOW_REPLIES)]
    requests = []
    for user in users:
        payload = json.dumps(body(webhook, "slow 1", user=user)).encode()
        requests.append((slow_reply_scope(path, token(webhook, user)), payload))

    sent: list[list[Mapping[str, Any]]] = [[] for _ in users]

    async def one(index: int) -> None:
        scope, payload = requests[index]
        delivered = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if not delivered.is_set():
                delivered.set()
                return {"type": "http.request", "body": payload, "more_body": False}
            await asyncio.Event().wait()
            return {"type": "http.disconnect"}

        async def send(event: Mapping[str, Any]) -> None:
            sent[index].append(event)

        await application(scope, receive, send)

    replies = [asyncio.create_task(one(index)) for index in range(SLOW_REPLIES)]
    # Each reply has begun its wait once the emulator recorded its request (then it sleeps).
    while len(state.requests(bot_id=webhook.bot_id)) < SLOW_REPLIES:
        await asyncio.sleep(0.01)
    waiting = threads_waiting_for_the_event_loop()
    await asyncio.gather(*replies)
    return waiting, sent


def test_a_slow_emulator_reply_holds_no_thread_while_it_waits() -> None:
    state.reset()
    waiting, sent = asyncio.run(slow_replies_and_threads_meanwhile())
    assert waiting == []
    for events in sent:
        assert events[0]["status"] == 200
        assert json.loads(b"".join(e.get("body", b"") for e in events[1:]))["text"][-1] == (
            "Done after 1 s."
        )
