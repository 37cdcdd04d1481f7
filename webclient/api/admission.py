"""Admitting long-polls: a few per turn of the event loop, so that a burst cannot starve the
rest, and only so many held at once, so that no client can take every connection.

After a restart every open widget reconnects at once: thousands of polls arrive within a
second or two. asyncio runs what is ready in arrival order, one turn of the loop at a time,
so each turn would verify the token of, and look for, every poll that arrived during the
previous one: a single turn could last seconds, and a health check (or any other request)
that arrived meanwhile would wait all that time. Here a poll costs next to nothing until it
is admitted, and at most `LONGPOLL_ADMIT_PER_TURN` are admitted per turn, in arrival order;
the rest wait their turn. Nothing is refused and the order is kept; when no burst is on, a
poll is admitted at once, without a single await.

Each held poll is an open connection, a file descriptor: one client that opened 22,000 polls
with one token reached the process's limit, and the health check and the chat page went
unanswered until the polls ended. So a process holds at most LONGPOLL_MAX_PER_IDENTITY
waiting polls of one bot's identity (a widget holds one per open tab) and
LONGPOLL_MAX_PER_ADDRESS of one client address (the client behind TRUSTED_PROXIES, as the
rate limits count it); past either the poll is refused with 429 (a cap of 0 is none). And
it holds no more polls than its open-file limit less LONGPOLL_FD_RESERVE, kept for
everything else (health checks, pages, sends, the admin, the database): past that, 503.
Every refusal says when to come back (Retry-After) and closes its connection. The counts
are per worker process.
"""

from __future__ import annotations

import asyncio
import resource
from collections import Counter, deque
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.conf import settings

from webclient import metrics
from webclient.errors import ApplicationError, Kind
from webclient.loops import per_loop

K = TypeVar("K", bound=Hashable)

# Seconds a refused poll is told to wait: held polls end within LONGPOLL_MAX_WAIT, most
# much sooner (a message, a closed tab).
RETRY_AFTER = 5


class _Turns:
    """One event loop's admissions."""

    def __init__(self, loop: asyncio.AbstractEventLoop, per_turn: int) -> None:
        self.loop = loop
        self._per_turn = per_turn
        self._admitted = 0  # in this turn
        self._queue: deque[asyncio.Future[None]] = deque()
        self._next_turn_scheduled = False

    def enter(self) -> asyncio.Future[None] | None:
        """None when admitted now; else a future that completes on admission."""
        if not self._queue and self._admitted < self._per_turn:
            self._admitted += 1
            self._schedule()
            return None
        future = self.loop.create_future()
        self._queue.append(future)
        self._schedule()
        return future

    def _schedule(self) -> None:
        if not self._next_turn_scheduled:
            self._next_turn_scheduled = True
            self.loop.call_soon(self._turn)

    def _turn(self) -> None:
        self._next_turn_scheduled = False
        self._admitted = 0
        while self._queue and self._admitted < self._per_turn:
            future = self._queue.popleft()
            if not future.done():  # its client left
                future.set_result(None)
                self._admitted += 1
        if self._queue or self._admitted:
            self._schedule()

    def waiting(self) -> int:
        return len(self._queue)


_turns = per_loop(lambda loop: _Turns(loop, settings.LONGPOLL_ADMIT_PER_TURN))


async def admitted() -> None:
    """Return once this poll's turn has come (at once when no burst is on)."""
    future = _turns().enter()
    if future is not None:
        await future


def descriptor_limit() -> int:
    """This process's open-file limit (`python -m kore_chat.serve` raises it first)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def poll_capacity(limit: int, reserve: int) -> int:
    """Polls a process may hold: its open-file limit less the reserve, and at least half
    of the limit whatever the reserve (a small limit still serves polls)."""
    return limit - min(reserve, limit // 2)


class _Held:
    """The polls one event loop holds: by identity, by address, and in all."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.total = 0
        self._identities: Counter[tuple[int, str]] = Counter()
        self._addresses: Counter[str] = Counter()

    def check_room(self, address: str) -> None:
        """Refuse now, before the token is verified, what no identity could change."""
        if self.total >= self.capacity:
            metrics.rate_limited("longpoll-capacity")
            raise ApplicationError(
                "server_busy",
                f"This server holds all the long-polls it can; try again in {RETRY_AFTER} s.",
                Kind.UNAVAILABLE,
                retry_after=RETRY_AFTER,
            )
        if _reached(self._addresses[address], settings.LONGPOLL_MAX_PER_ADDRESS):
            metrics.rate_limited("longpoll-address")
            raise _too_many("this address")

    @contextmanager
    def holding(self, identity: tuple[int, str], address: str) -> Iterator[None]:
        self.check_room(address)
        if _reached(self._identities[identity], settings.LONGPOLL_MAX_PER_IDENTITY):
            metrics.rate_limited("longpoll-identity")
            raise _too_many("this user")
        self.total += 1
        self._identities[identity] += 1
        self._addresses[address] += 1
        try:
            yield
        finally:
            self.total -= 1
            _decrement(self._identities, identity)
            _decrement(self._addresses, address)


def _reached(count: int, limit: int) -> bool:
    """Whether `count` polls reach `limit` (0: no limit)."""
    return bool(limit) and count >= limit


def _decrement(counts: Counter[K], key: K) -> None:
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]


def _too_many(whom: str) -> ApplicationError:
    return ApplicationError(
        "too_many_polls",
        f"Too many long-polls are open for {whom}; try again in {RETRY_AFTER} s.",
        Kind.RATE_LIMITED,
        retry_after=RETRY_AFTER,
    )


held = per_loop(lambda loop: _Held(poll_capacity(descriptor_limit(), settings.LONGPOLL_FD_RESERVE)))
