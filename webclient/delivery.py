"""Waking long-polls when a message is stored.

The database is the source of truth; a notification is only a hint to look again. Waiters
register before their first query and re-query after every wake or timeout, so a message
stored between the query and the wait is never missed.

`InProcessNotifier` serves one process. Publishing is thread-safe (stores happen in request
and dispatcher threads, waiters live on event loops), so another backend (PostgreSQL
LISTEN/NOTIFY, Redis pub/sub) only has to call `publish_local` when a peer publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar

T = TypeVar("T")


class Waiter:
    """One waiting long-poll: an event on the event loop that created it."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def wake(self) -> None:
        # Called from any thread; the loop may already be gone if the poll just ended.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._event.set)

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


class Notifier(Protocol):
    def subscribe(self, channel: str) -> Waiter: ...

    def unsubscribe(self, channel: str, waiter: Waiter) -> None: ...

    def publish(self, channel: str) -> None: ...


class InProcessNotifier:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[Waiter]] = defaultdict(set)

    def subscribe(self, channel: str) -> Waiter:
        waiter = Waiter()
        with self._lock:
            self._waiters[channel].add(waiter)
        return waiter

    def unsubscribe(self, channel: str, waiter: Waiter) -> None:
        with self._lock:
            waiters = self._waiters.get(channel)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[channel]

    def publish(self, channel: str) -> None:
        self.publish_local(channel)

    def publish_local(self, channel: str) -> None:
        with self._lock:
            waiters = list(self._waiters.get(channel, ()))
        for waiter in waiters:
            waiter.wake()

    def waiting(self) -> int:
        with self._lock:
            return sum(len(waiters) for waiters in self._waiters.values())


notifier = InProcessNotifier()


@asynccontextmanager
async def subscription(channel: str) -> AsyncIterator[Waiter]:
    waiter = notifier.subscribe(channel)
    try:
        yield waiter
    finally:
        notifier.unsubscribe(channel, waiter)


async def wait_for(channel: str, fetch: Callable[[], Awaitable[T]], timeout: float) -> T:
    """Return what `fetch` finds, waiting up to `timeout` seconds for it to be truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with subscription(channel) as waiter:
        while True:
            waiter.clear()
            found = await fetch()
            remaining = deadline - loop.time()
            if found or remaining <= 0:
                return found
            await waiter.wait(remaining)
