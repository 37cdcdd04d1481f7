"""The ASGI application; `python -m kore_chat.serve` runs it (kore_chat/serve.py).

Long-polls (`GET` and `HEAD /api/v1/messages`) are served by a bare ASGI handler that holds
no thread while it waits (webclient/api/longpoll.py); everything else goes through Django.
On startup the notifier starts listening to other processes and the outbox dispatcher
starts, so messages accepted before a restart are forwarded; in DEBUG, pending migrations
are applied first and, with the emulator on, the demo bots seeded (`seed_demo`), so a fresh
checkout serves the demo with no setup.
"""

from __future__ import annotations

import asyncio
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kore_chat.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402  (after Django is set up)
from django.core.management import call_command  # noqa: E402
from django.db import DEFAULT_DB_ALIAS, connections  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402

from webclient.api.longpoll import Receive, Scope, Send, longpoll_app  # noqa: E402
from webclient.delivery import notifier  # noqa: E402
from webclient.kore.dispatcher import dispatcher  # noqa: E402
from webclient.metrics import process_exited  # noqa: E402

LONGPOLL_PATH = "/api/v1/messages"
# HEAD too: through Django it would hold a thread for the whole wait (longpoll_app answers
# it at once).
LONGPOLL_METHODS = frozenset({"GET", "HEAD"})


def _migrate_for_demo() -> None:
    """In DEBUG, serving a fresh checkout is a demo: no setup step."""
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        call_command("migrate", interactive=False, verbosity=1)
    if settings.KORE_EMULATOR:
        call_command("seed_demo", verbosity=0)
    connections.close_all()


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        event = await receive()
        if event["type"] == "lifespan.startup":
            if settings.DEBUG:
                await asyncio.to_thread(_migrate_for_demo)
            # Hear of messages other processes store before the first poll arrives.
            notifier.start()
            if settings.KORE_DISPATCHER:
                dispatcher.kick()
            await send({"type": "lifespan.startup.complete"})
        elif event["type"] == "lifespan.shutdown":
            process_exited(os.getpid())
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif (
        scope["type"] == "http"
        and scope["method"] in LONGPOLL_METHODS
        and scope["path"] == LONGPOLL_PATH
    ):
        await longpoll_app(scope, receive, send)
    else:
        await django_application(scope, receive, send)
