"""One GET through the ASGI application the server runs, for tests of the bare long-poll path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from kore_chat.asgi import application


def asgi_get(path: str, query: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "query_string": query.encode(),
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    sent: list[Mapping[str, Any]] = []
    requested: list[bool] = []

    async def receive() -> dict[str, Any]:
        if not requested:
            requested.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        # The client stays connected until the answer is sent.
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(event: Mapping[str, Any]) -> None:
        sent.append(event)

    asyncio.run(application(scope, receive, send))
    response_headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], response_headers, json.loads(sent[1]["body"])
