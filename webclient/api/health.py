"""`GET /healthz` under ASGI: the liveness check, answered by the event loop itself.

A load balancer asks it every few seconds and takes a slow answer for a dead worker, so it
must stay fast when the worker is busiest: during a reconnect storm, when thousands of
long-polls arrive at once (measured). Through Django it took a thread and several trips
between the loop and that thread, each waiting for a turn of a busy loop: up to seconds.
Here it is answered in the turn its request is read, with the headers Django's middleware
gives the same view (`api.views.HealthView`, which the development server and Django's test
client still use). Readiness (the database, the bots) is `/readyz`, through Django.
"""

from __future__ import annotations

import json

from django.conf import settings

from webclient.api.asgi import Receive, Scope, Send

HEALTH_PATH = "/healthz"
_BODY = json.dumps({"status": "ok"}, separators=(",", ":")).encode()
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_BODY)).encode()),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]


async def health_app(scope: Scope, receive: Receive, send: Send) -> None:
    headers = list(_HEADERS)
    if scope.get("scheme") == "https" and settings.SECURE_HSTS_SECONDS:
        headers.append(
            (b"strict-transport-security", f"max-age={settings.SECURE_HSTS_SECONDS}".encode())
        )
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    body = b"" if scope["method"] == "HEAD" else _BODY
    await send({"type": "http.response.body", "body": body})
