"""The wait of a long-poll: look, and until something is found, wait for a wake-up and look
again.

The database is the source of truth; a notification is only a hint to look again. A waiter
registers before the first look and looks again after every wake-up, so a message stored
between a look and the wait is never missed. A look answers from the notifier's knowledge
when it can (webclient/delivery/knowledge.py) and queries otherwise.

What a look found holds until its knowledge runs out (LONGPOLL_KNOWLEDGE_SECONDS after the
query that found it began): a held poll looks again then at the latest, woken or not, so a
message that notified nobody (written by the admin, a shell, a migration, or whose
notification was lost) reaches it within that bound. While the listener is down, polls look
again every DEAF_LOOK seconds.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar

from webclient.delivery.knowledge import bound
from webclient.delivery.notifiers import Waiter, notifier

# While its listener is down, a process's polls look again this often (seconds) instead of
# waiting for a wake-up that may never come.
DEAF_LOOK = 2.0


@asynccontextmanager
async def subscription(channel: str) -> AsyncIterator[Waiter]:
    waiter = notifier.subscribe(channel)
    try:
        yield waiter
    finally:
        notifier.unsubscribe(channel, waiter)


class Look(Protocol):
    """What a poll finds: truthy when there are messages to answer."""

    @property
    def pending(self) -> bool: ...

    def __bool__(self) -> bool: ...

    def newest(self, after: int) -> int | None:
        """The newest message id of the channel as this look saw it (`after` when it found
        none); None when more may follow than it holds."""


L = TypeVar("L", bound=Look)


async def look(
    channel: str, after: int, query: Callable[[], Awaitable[L]], current: Callable[[bool], L]
) -> tuple[L, float]:
    """What a poll from cursor `after` finds, and until when (time.monotonic) that holds:
    `current(pending)` when the notifier knows that no message after `after` exists, else
    `query()`, whose findings it then knows."""
    knowledge = notifier.knowledge
    known = knowledge.current(channel, after)
    if known is not None:
        pending, until = known
        return current(pending), until
    token = knowledge.token()
    found = await query()
    newest = found.newest(after)
    if newest is not None:
        knowledge.note(channel, newest, found.pending, token)
    return found, token.at + bound()


async def wait_for(
    channel: str,
    after: int,
    query: Callable[[], Awaitable[L]],
    current: Callable[[bool], L],
    timeout: float,
) -> L:
    """What a poll from cursor `after` finds (`look`), waiting up to `timeout` seconds for it
    to be truthy: it looks on arrival, after every wake-up, when what it found runs out, and
    when the wait runs out."""
    deadline = time.monotonic() + timeout
    async with subscription(channel) as waiter:
        while True:
            waiter.clear()
            found, until = await look(channel, after, query, current)
            now = time.monotonic()
            if found or now >= deadline:
                return found
            # Deaf to other processes (the listener is down), no wake-up can be trusted.
            wake_by = (
                min(deadline, until)
                if notifier.listening()
                else min(deadline, until, now + DEAF_LOOK)
            )
            await waiter.wait(wake_by - now)
