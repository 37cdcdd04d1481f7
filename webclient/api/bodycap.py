"""Refusing a body over its route's cap as soon as that shows, for every path (ASGI).

Django reads a request's whole body into a temporary file before any middleware runs, so
a cap checked there (webclient/api/middleware.py) came after a client had written as much
as it liked to disk. Here a declared Content-Length over the cap is answered 413 before a
byte of the body is read, and a body without one (chunked) is counted as it arrives and
refused once it passes the cap. The answer closes the connection, so the rest of the body
is never read. The caps are `limits.body_cap`'s.
"""

from __future__ import annotations

from typing import Any

from webclient.api.asgi import App, Receive, Scope, Send, send_json
from webclient.api.errors import error_answer
from webclient.api.longpoll import cross_origin_headers, request_origin
from webclient.security.limits import body_cap, body_too_large


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            # The server's parser has checked it is a number.
            return int(value) if value.isdigit() else None
    return None


async def _refuse(scope: Scope, send: Send, cap: int) -> None:
    answer = error_answer(body_too_large(cap))
    headers = {**answer.headers, "Connection": "close"}
    if scope["path"].startswith(("/api/", "/kore/api/", "/kore/chatbot/")):
        headers.update(await cross_origin_headers(*request_origin(scope)))
    await send_json(send, answer.status, answer.body, headers)


def body_capped(app: App) -> App:
    """`app` behind the body cap of each request's path."""

    async def capped(scope: Scope, receive: Receive, send: Send) -> None:
        cap = body_cap(scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > cap:
            await _refuse(scope, send, cap)
            return
        received = 0
        refused = started = False

        async def counted() -> dict[str, Any]:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    # To the application, the client left: it answers nothing.
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await app(scope, counted, watched)
        if refused and not started:
            await _refuse(scope, send, cap)

    return capped
