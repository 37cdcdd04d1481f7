"""The ASGI application; `python -m kore_chat.serve` runs it (kore_chat/serve.py).

Long-polls (`GET` and `HEAD /api/v1/messages`) are served by a bare ASGI handler that holds
no thread while it waits (webclient/api/longpoll.py), and the liveness check (`/healthz`) by
the event loop itself (webclient/api/health.py); everything else goes through Django's own
ASGI handler, whose middleware runs in the event loop where it can: async views (the
emulator's) wait there without a thread, sync views run in one.
On startup the notifier starts listening to other processes and, unless `manage.py relay`
runs it (KORE_DISPATCHER=false), the outbox dispatcher starts, so messages accepted before a
restart are forwarded, and on shutdown it stops; in DEBUG, pending migrations
are applied first and, with the emulator on, the demo bots seeded (`seed_demo`), so a fresh
checkout serves the demo with no setup.
"""

from __future__ import annotations

import asyncio
import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kore_chat.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402  (after Django is set up)
from django.core.management import call_command  # noqa: E402
from django.db import DEFAULT_DB_ALIAS, connections  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402

from webclient.api.asgi import Receive, Scope, Send  # noqa: E402
from webclient.api.bodycap import body_capped  # noqa: E402
from webclient.api.health import HEALTH_PATH, health_app  # noqa: E402
from webclient.api.longpoll import longpoll_app  # noqa: E402
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


# Allocations between young collections (Python's default: 700). Thousands of held polls are
# hundreds of thousands of long-lived objects; see _collect_less.
GC_YOUNG_THRESHOLD = 10_000


def _collect_less() -> None:
    """Keep the cyclic garbage collector's full passes short and rare.

    A full pass walks every tracked object and holds the event loop meanwhile: with 10,000
    held polls, passes of 200-480 ms came every second or two of a reconnect storm (issue
    13), and found nothing to free. What exists once the application has started (Django,
    its apps, their modules: most of the heap) lives as long as the process: frozen, no
    pass walks it again. Young collections come less often too.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        event = await receive()
        if event["type"] == "lifespan.startup":
            if settings.DEBUG:
                await asyncio.to_thread(_migrate_for_demo)
            # Hear of messages other processes store before the first poll arrives.
            notifier.start()
            if settings.KORE_DISPATCHER:
                dispatcher.start()
            _collect_less()
            await send({"type": "lifespan.startup.complete"})
        elif event["type"] == "lifespan.shutdown":
            # What it has in flight finishes within KORE_RELAY_STOP_GRACE.
            await asyncio.to_thread(dispatcher.shutdown)
            process_exited(os.getpid())
            await send({"type": "lifespan.shutdown.complete"})
            return


# Django reads a body whole before any of its middleware runs: its cap comes first.
capped_django_application = body_capped(django_application)


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif (
        scope["type"] == "http"
        and scope["method"] in LONGPOLL_METHODS
        and scope["path"] == LONGPOLL_PATH
    ):
        # Neither reads the body: whatever one carries is dropped as it arrives.
        await longpoll_app(scope, receive, send)
    elif (
        scope["type"] == "http"
        and scope["path"] == HEALTH_PATH
        and scope["method"] in ("GET", "HEAD")
    ):
        await health_app(scope, receive, send)
    elif scope["type"] == "http":
        await capped_django_application(scope, receive, send)
    else:
        await django_application(scope, receive, send)
