"""A deadline on reading a request's body, as ASGI middleware (`python -m kore_chat.serve`
wraps the application in it).

granian closes a connection whose request line and headers are slower than its
`header_read_timeout`, but it has no limit on the body: a client announcing 5,000 bytes and
sending one a second would hold its request, and Django's thread waiting for the body,
for over an hour. Here the body must arrive whole within `timeout` seconds of the
application receiving the request (its headers complete). Past that, the request is
answered 408 with `Connection: close` (the server then drops the connection, whose body
was never read to its end), and the application reading the body sees a disconnect, as
if the client had left; whatever it sends afterwards is dropped.

Nothing limits the time the application takes to answer once the body is read: a
long-poll, whose (empty) body is read at once, waits as long as it was asked to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from webclient.api.asgi import App, Receive, Scope, Send, send_json

Message = dict[str, Any]
TIMED_OUT = {"error": {"code": "request_timeout", "message": "The request body came too slowly."}}
DISCONNECT: Message = {"type": "http.disconnect"}


class _Request:
    """One request's state: whether its body is whole, and whether it ran out of time."""

    __slots__ = ("deadline", "send", "started", "timed_out", "whole")

    def __init__(self, send: Send, deadline: float) -> None:
        self.send = send
        self.deadline = deadline
        self.whole = False
        self.started = False
        self.timed_out = False

    async def respond(self, message: Mapping[str, Any]) -> None:
        if self.timed_out:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)

    async def time_out(self) -> Message:
        self.timed_out = True
        if not self.started:
            await send_json(self.send, 408, TIMED_OUT, {"Connection": "close"})
        return DISCONNECT


def body_deadline(app: App, timeout: float) -> App:
    """`app`, whose HTTP requests must deliver their body within `timeout` seconds."""

    async def deadlined(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        request = _Request(send, asyncio.get_running_loop().time() + timeout)

        async def receive_in_time() -> Message:
            if request.timed_out:
                return DISCONNECT
            if request.whole:
                return await receive()
            try:
                async with asyncio.timeout_at(request.deadline):
                    message = await receive()
            except TimeoutError:
                return await request.time_out()
            if message["type"] != "http.request" or not message.get("more_body", False):
                request.whole = True
            return message

        await app(scope, receive_in_time, request.respond)

    return deadlined
