"""`manage.py relay [--grace SECONDS]`: the relay's background work as a process of its own.

It runs what web workers run in-process by default: the outbox dispatcher (forwarding user
messages to the bot, in order, once), the V2 pollId chains and the sweeps (lapsed leases,
stale `pending`, old callback keys, unsent uploads). Web workers started with
KORE_DISPATCHER=false accept messages and tell the relay processes of each one through the
notifier (`pg_notify` on PostgreSQL, Redis pub/sub with NOTIFY_BACKEND=redis); the relay
stores the bot's answers, whose notifications wake the web workers' long-polls.

Run one or more (docs/deployment.md): the database shares the work out with conditional
updates and leases, so two relays never forward a message twice, and one killed outright
loses nothing (its leases lapse and the others, or its restart, take over). On SIGTERM or
SIGINT it claims nothing more, lets what is in flight finish for up to the grace
(KORE_RELAY_STOP_GRACE), and exits.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from webclient.delivery import notifier
from webclient.kore.dispatcher import Dispatcher

log = logging.getLogger("webclient.kore.relay")


class Command(BaseCommand):
    help = "Run the relay (outbox dispatcher, pollId chains, sweeps) until SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grace",
            type=float,
            default=None,
            help="Seconds a stopping relay lets what is in flight finish "
            "(default: KORE_RELAY_STOP_GRACE).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.NOTIFY_BACKEND == "local":
            raise CommandError(
                "manage.py relay needs a notifier shared by processes: PostgreSQL "
                "(DATABASE_URL) or NOTIFY_BACKEND=redis. With SQLite the web server runs "
                "the relay itself (KORE_DISPATCHER=true, the default)."
            )
        grace = settings.KORE_RELAY_STOP_GRACE if options["grace"] is None else options["grace"]
        dispatcher = Dispatcher()
        notifier.on_outbox(dispatcher.kick)
        asyncio.run(_serve(dispatcher, grace))


async def _serve(dispatcher: Dispatcher, grace: float) -> None:
    running = asyncio.create_task(dispatcher.run())

    def stop() -> None:
        if dispatcher.running:
            dispatcher.stop(grace)
        else:  # not begun yet: nothing in flight
            running.cancel()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
    # A wake-up heard before the dispatcher takes them is not needed: it looks at the whole
    # outbox when it begins, and again when the listener (re)connects.
    notifier.start()
    log.info("relay %s running", dispatcher.owner)
    try:
        await running
    except asyncio.CancelledError:
        if not running.cancelled():
            raise
    finally:
        notifier.stop()
    log.info("relay %s stopped", dispatcher.owner)
