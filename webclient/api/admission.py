"""Admitting long-polls a few per turn of the event loop, so that a burst cannot starve the rest.

After a restart every open widget reconnects at once: thousands of polls arrive within a
second or two. asyncio runs what is ready in arrival order, one turn of the loop at a time,
so each turn would verify the token of, and look for, every poll that arrived during the
previous one: a single turn could last seconds, and a health check (or any other request)
that arrived meanwhile would wait all that time. Here a poll costs next to nothing until it
is admitted, and at most `LONGPOLL_ADMIT_PER_TURN` are admitted per turn, in arrival order;
the rest wait their turn. Nothing is refused and the order is kept; when no burst is on, a
poll is admitted at once, without a single await.
"""

from __future__ import annotations

import asyncio
from collections import deque

from django.conf import settings

from webclient.loops import per_loop


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
