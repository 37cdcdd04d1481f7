"""The body deadline (kore_chat/bodydeadline.py), in-process around small ASGI applications.

A deadline is about time, so these tests use short ones; what did not happen by a deadline
is shown by something the event loop ran after it (a callback scheduled past it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from kore_chat.bodydeadline import body_deadline
from webclient.api.asgi import App, Receive, Scope, Send

HTTP: Scope = {"type": "http", "method": "POST", "path": "/x", "headers": []}
DEADLINE = 0.05


class Client:
    """The server's side of one request: what the client has sent, and what was answered."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for message in messages:
            self.incoming.put_nowait(message)
        self.sent: list[Mapping[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send(self, message: Mapping[str, Any]) -> None:
        self.sent.append(message)

    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        assert len(starts) <= 1, starts
        return starts[0]["status"] if starts else None

    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])


def run(app: App, client: Client, scope: Scope = HTTP) -> None:
    async def call() -> None:
        await body_deadline(app, DEADLINE)(scope, client.receive, client.send)

    asyncio.run(call())


def body_part(data: bytes, more: bool) -> dict[str, Any]:
    return {"type": "http.request", "body": data, "more_body": more}


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body, then answers it; records what reading it ended with."""
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            echo.ended_with = "disconnect"  # type: ignore[attr-defined]
            await send({"type": "http.response.start", "status": 499, "headers": []})
            return
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_a_body_that_never_ends_is_answered_408_and_the_application_sees_a_disconnect() -> None:
    client = Client(body_part(b"{", more=True))
    run(echo, client)
    assert client.status() == 408
    assert client.headers()[b"connection"] == b"close"
    assert b'"code":"request_timeout"' in client.sent[1]["body"]
    # The application's own answer, after the disconnect, went nowhere.
    assert echo.ended_with == "disconnect"  # type: ignore[attr-defined]
    assert len(client.sent) == 2


def test_a_body_that_arrives_in_time_is_answered_by_the_application() -> None:
    client = Client(body_part(b"ab", more=True), body_part(b"cd", more=False))
    run(echo, client)
    assert client.status() == 200
    assert client.sent[1]["body"] == b"abcd"


def test_once_the_body_is_whole_the_application_may_wait_past_the_deadline() -> None:
    async def held(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the whole (empty) body
        # As a long-poll does: wait for the client to leave, however long that takes.
        assert (await receive())["type"] == "http.disconnect"
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def run() -> Client:
        client = Client(body_part(b"", more=False))
        loop = asyncio.get_running_loop()
        # The client leaves only after the deadline has passed.
        loop.call_at(
            loop.time() + 2 * DEADLINE, client.incoming.put_nowait, {"type": "http.disconnect"}
        )
        await body_deadline(held, DEADLINE)(HTTP, client.receive, client.send)
        return client

    assert asyncio.run(run()).status() == 200


def test_an_answer_already_started_is_not_replaced_when_the_body_runs_late() -> None:
    async def answers_first(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 202, "headers": []})
        assert (await receive())["type"] == "http.request"
        assert (await receive())["type"] == "http.disconnect"

    client = Client(body_part(b"{", more=True))
    run(answers_first, client)
    assert client.status() == 202
    assert len(client.sent) == 1


def test_other_scopes_pass_through_untouched() -> None:
    seen: list[Scope] = []

    async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await send({"type": "lifespan.startup.complete"})

    client = Client()
    scope = {"type": "lifespan"}
    run(lifespan, client, scope)
    assert seen == [scope]
    assert client.sent == [{"type": "lifespan.startup.complete"}]
