"""The production entry point: `uvicorn kore_chat.asgi:application`.

Long-polls (`GET /api/v1/messages`) are served by a bare ASGI handler that holds no thread
while it waits (webclient/api/longpoll.py); everything else goes through Django. On startup
the outbox dispatcher starts, so messages accepted before a restart are forwarded.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kore_chat.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402  (after Django is set up)

from webclient.api.longpoll import Receive, Scope, Send, longpoll_app  # noqa: E402
from webclient.kore.dispatcher import dispatcher  # noqa: E402

LONGPOLL_PATH = "/api/v1/messages"


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        event = await receive()
        if event["type"] == "lifespan.startup":
            if settings.KORE_DISPATCHER:
                dispatcher.kick()
            await send({"type": "lifespan.startup.complete"})
        elif event["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == LONGPOLL_PATH:
        await longpoll_app(scope, receive, send)
    else:
        await django_application(scope, receive, send)
