"""Static files: WhiteNoise serves the requests under STATIC_URL, through the same security
headers as every other answer; anything else under STATIC_URL is Django's 404."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from django.conf import settings

from kore_chat.asgi import application

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def asgi_get(path: str) -> tuple[int, dict[str, str], bytes]:
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "query_string": b"",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 50000),
        "headers": [(b"host", b"127.0.0.1")],
    }
    sent: list[Mapping[str, Any]] = []
    requested: list[bool] = []

    async def receive() -> dict[str, Any]:
        if not requested:
            requested.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(event: Mapping[str, Any]) -> None:
        sent.append(event)

    asyncio.run(application(scope, receive, send))
    headers = {k.decode().lower(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(e.get("body", b"") for e in sent[1:])


def test_a_static_file_is_served_with_the_security_headers() -> None:
    status, headers, body = asgi_get(f"{settings.STATIC_URL}webclient/embed.js")
    assert status == 200
    assert body == (settings.BASE_DIR / "static" / "webclient" / "embed.js").read_bytes()
    assert headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in headers


def test_a_missing_static_file_is_djangos_404() -> None:
    status, headers, _ = asgi_get(f"{settings.STATIC_URL}webclient/no-such-file.js")
    assert status == 404
    assert "content-security-policy" in headers


def test_a_static_file_is_not_served_outside_the_static_url() -> None:
    status, _, _ = asgi_get("/webclient/embed.js")
    assert status == 404
