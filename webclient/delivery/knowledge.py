"""What a process knows of each channel, so that a poll whose cursor is current costs no query,
neither on arrival nor when its wait runs out.

A notifier that hears of every change (`authoritative`) remembers, for each channel, the newest
message id and the conversation's `pending` that a query found, and forgets the `pending`
whenever it hears of a change: a message stored, or `pending` changed without one. `current`
answers from that knowledge when it is complete, and a poll queries otherwise. A query's
findings are kept only if no change of its channel was heard since it began (`token`/`note`),
so the knowledge never runs behind a change that notified.

Hearing every change is a convention that a write outside `services` breaks: the admin, a
shell, a data migration or a lost notification store a message that nobody hears of. So the
knowledge lasts LONGPOLL_KNOWLEDGE_SECONDS from the start of the query that found it, and no
longer: past it, a poll queries again, and a held poll looks again when the knowledge it
answered from runs out (webclient/delivery/waiting.py). A message stored by any means is seen
by every held or new poll of its channel within that bound (plus one query).

A stretch of knowledge (`epoch`) lasts while the notifier hears every change: always for the
local notifier, while its listener is connected for PostgreSQL's, never for Redis's.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings

# Channels whose state is remembered; the least recently changed are forgotten past this.
KNOWN_CHANNELS = 100_000


@dataclass(frozen=True)
class Token:
    """When a query began: the stretch of knowledge, the count of changes heard, the time."""

    epoch: int | None
    tick: int
    at: float


@dataclass(slots=True)
class _Known:
    """What is known of one channel."""

    newest: int | None  # the highest message id known to exist or to be the newest
    pending: bool | None  # the conversation's `pending`; None since a change was heard
    tick: int  # the change count when this channel last changed
    learned: float  # when the query that found `pending` began (time.monotonic)


def bound() -> float:
    """How long, in seconds, what a query found may answer polls."""
    seconds: float = settings.LONGPOLL_KNOWLEDGE_SECONDS
    return seconds


class Knowledge:
    """The knowledge of one notifier; thread-safe."""

    def __init__(self, authoritative: bool) -> None:
        self._authoritative = authoritative
        self._lock = threading.Lock()
        self._known: dict[str, _Known] = {}
        # Changes heard so far, and the count at the last change of a forgotten channel.
        self._tick = 0
        self._forgotten_tick = 0
        self._generation = 1
        self._epoch: int | None = self._generation if authoritative else None

    def epoch(self) -> int | None:
        return self._epoch

    def current(self, channel: str, after: int) -> tuple[bool, float] | None:
        """The conversation's `pending` when no message after `after` can exist in `channel`,
        and until when (time.monotonic) that holds; None when a query must tell."""
        with self._lock:
            known = self._known.get(channel) if self._epoch is not None else None
            if known is None or known.newest is None or known.newest > after:
                return None
            if known.pending is None:
                return None
            until = known.learned + bound()
            if time.monotonic() >= until:
                return None
            return known.pending, until

    def token(self) -> Token:
        """Taken before a query, for `note`."""
        with self._lock:
            return Token(self._epoch, self._tick, time.monotonic())

    def note(self, channel: str, newest: int, pending: bool, token: Token) -> None:
        """A query begun at `token` found `newest` the newest message id and `pending`."""
        with self._lock:
            if token.epoch is None or token.epoch != self._epoch:
                return
            known = self._known.get(channel)
            # A change heard since the query began may be one it did not see.
            last_change = known.tick if known is not None else self._forgotten_tick
            if last_change > token.tick:
                return
            if known is None:
                self._keep(channel, _Known(newest, pending, 0, token.at))
            elif known.pending is None or known.learned <= token.at:
                # What a later query found is kept over what an earlier one did.
                known.newest = newest if known.newest is None else max(known.newest, newest)
                known.pending = pending
                known.learned = token.at

    def heard(self, channel: str, message_id: int | None) -> None:
        """A change of `channel` was committed: `message_id` stored, or (None) `pending`."""
        with self._lock:
            self._tick += 1
            known = self._known.pop(channel, None)
            newest = known.newest if known is not None else None
            if message_id is not None:
                # Max: a later notification may have overtaken an earlier one.
                newest = message_id if newest is None else max(newest, message_id)
            self._keep(channel, _Known(newest, None, self._tick, 0.0))

    def _keep(self, channel: str, known: _Known) -> None:
        self._known[channel] = known
        if len(self._known) > KNOWN_CHANNELS:
            oldest = next(iter(self._known))
            self._forgotten_tick = max(self._forgotten_tick, self._known.pop(oldest).tick)

    def restart(self) -> None:
        """Every change is heard from now on: a new stretch of knowledge."""
        with self._lock:
            self._known.clear()
            self._generation += 1
            self._epoch = self._generation if self._authoritative else None

    def stop(self) -> None:
        """Changes may go unheard from now on: nothing is known until `restart`."""
        with self._lock:
            self._known.clear()
            self._epoch = None
