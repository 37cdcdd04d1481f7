"""Waking long-polls when a message is stored, in this process and in every other one.

The database is the source of truth; a notification is only a hint to look again. Waiters
register before their first query and re-query after every wake or timeout, so a message
stored between the query and the wait is never missed.

A notification names the conversation's channel and the new message's id. Stores call
`notifier.stored(channel, message_id)` inside their transaction; each backend makes sure
every process hears of it once the transaction commits, and each process wakes its own
waiters (`publish_local`):
- `LocalNotifier`: this process only (SQLite, one process).
- `PostgresNotifier`: `pg_notify` inside the storing transaction, so the notification fires
  exactly at commit (never for a rollback, never before the row is visible), from any process
  that writes, management commands included. Each process LISTENs on one dedicated
  connection, in a thread of its own.
- `RedisNotifier`: a PUBLISH after commit; each process holds one subscriber connection.

A listener whose connection drops reconnects with back-off, then wakes all its waiters once:
they look again, so a notification missed meanwhile costs no more than that query.

Knowing the newest message id of a channel (issue 13): a PostgreSQL listener hears every
commit from the moment its LISTEN runs, so from then on it can tell that a poll's cursor is
already current and spare that poll its query on arrival (`wait_for(after=…)`). That
knowledge is reset whenever the connection drops; Redis's is never trusted (a process that
dies between its commit and its PUBLISH loses the hint), nor the local backend's (another
process may write to the same SQLite file).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import psycopg
import redis
from django.conf import settings
from django.db import connection, transaction

T = TypeVar("T")

log = logging.getLogger(__name__)

# Channels whose newest message id is remembered; the oldest are forgotten past this.
KNOWN_CHANNELS = 100_000
# Reconnect back-off of a listener: first delay, growth, cap (seconds, jittered).
RECONNECT_FIRST, RECONNECT_MAX = 0.05, 5.0
# A listener checks its connection at least this often (seconds) when nothing arrives.
LISTENER_HEALTH_INTERVAL = 5.0
PG_CHANNEL = "kore_chat_messages"
# How a listener's connection shows in pg_stat_activity.
LISTENER_APPLICATION_NAME = "kore-chat listener"


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

    def stored(self, channel: str, message_id: int) -> None:
        """Inside the transaction that stored `message_id`: wake its channel once committed."""

    def epoch(self) -> int | None:
        """An id of the current stretch of complete knowledge, or None while it is incomplete."""

    def is_current(self, channel: str, after: int) -> bool:
        """Whether no message after `after` can exist in `channel` (complete knowledge only)."""

    def note_current(self, channel: str, after: int, epoch: int | None) -> None:
        """A query begun in `epoch` found nothing after `after` in `channel`."""


class LocalNotifier:
    """Waiters of this process; other backends add a way to hear of other processes' stores."""

    # Whether this backend hears of every commit while connected (see the module's doc).
    authoritative = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[Waiter]] = defaultdict(set)
        # channel → the highest message id known to exist (or known to be the newest).
        self._known: dict[str, int] = {}
        self._epoch: int | None = None
        self._generation = 0

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

    def stored(self, channel: str, message_id: int) -> None:
        transaction.on_commit(lambda: self.publish_local(channel, message_id))

    def publish_local(self, channel: str, message_id: int) -> None:
        """Wake this process's waiters on `channel`: `message_id` was committed."""
        with self._lock:
            self._remember(channel, message_id)
            waiters = list(self._waiters.get(channel, ()))
        for waiter in waiters:
            waiter.wake()

    def wake_all(self) -> None:
        with self._lock:
            waiters = [waiter for group in self._waiters.values() for waiter in group]
        for waiter in waiters:
            waiter.wake()

    def waiting(self) -> int:
        with self._lock:
            return sum(len(waiters) for waiters in self._waiters.values())

    # Knowledge of each channel's newest message (meaningful only while `epoch()` is set).

    def epoch(self) -> int | None:
        return self._epoch

    def is_current(self, channel: str, after: int) -> bool:
        with self._lock:
            known = self._known.get(channel) if self._epoch is not None else None
        return known is not None and known <= after

    def note_current(self, channel: str, after: int, epoch: int | None) -> None:
        with self._lock:
            if epoch is not None and epoch == self._epoch:
                self._remember(channel, after)

    def _remember(self, channel: str, message_id: int) -> None:
        # Max, not overwrite: a later notification may have overtaken the query that noted.
        known = self._known.pop(channel, None)
        self._known[channel] = message_id if known is None else max(known, message_id)
        if len(self._known) > KNOWN_CHANNELS:
            del self._known[next(iter(self._known))]

    def listener_connected(self) -> None:
        """The listener hears every commit from now on: start a new stretch of knowledge, and
        wake every waiter once, since it may have missed notifications before."""
        with self._lock:
            self._known.clear()
            self._generation += 1
            self._epoch = self._generation if self.authoritative else None
        self.wake_all()

    def listener_disconnected(self) -> None:
        with self._lock:
            self._known.clear()
            self._epoch = None

    def start(self) -> None:
        """Start listening to other processes (a no-op here)."""

    def stop(self) -> None:
        """Stop listening once the listener's connection ends."""


class _Listener:
    """One thread holding one connection, reconnecting with back-off when it drops."""

    def __init__(self, name: str, notifier: LocalNotifier) -> None:
        self._name = name
        self._notifier = notifier
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.connected = threading.Event()

    def start(self, listen: Callable[[Callable[[], None]], None]) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, args=(listen,), name=self._name, daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Listen no more once the current connection ends (used when tests tear down)."""
        self._stopping = True

    def _run(self, listen: Callable[[Callable[[], None]], None]) -> None:
        delay = RECONNECT_FIRST
        while True:
            self.connected.clear()
            try:
                listen(self._on_connected)
            except Exception as exc:
                log.warning("%s: connection lost (%s); reconnecting", self._name, exc)
            if self.connected.is_set():
                delay = RECONNECT_FIRST
            self.connected.clear()
            self._notifier.listener_disconnected()
            if self._stopping:
                return
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, RECONNECT_MAX)

    def _on_connected(self) -> None:
        self._notifier.listener_connected()
        self.connected.set()


def _parse(payload: str) -> tuple[str, int] | None:
    message_id, _, channel = payload.partition(" ")
    if not message_id.isdigit() or not channel:
        log.warning("ignoring a malformed notification %r", payload[:100])
        return None
    return channel, int(message_id)


def _payload(channel: str, message_id: int) -> str:
    return f"{message_id} {channel}"


class ListeningNotifier(LocalNotifier):
    """A notifier that hears other processes' stores on one connection, in a thread."""

    listener_name = "listener"

    def __init__(self) -> None:
        super().__init__()
        self._listener = _Listener(self.listener_name, self)

    def subscribe(self, channel: str) -> Waiter:
        self.start()
        return super().subscribe(channel)

    def start(self) -> None:
        self._listener.start(self._listen)

    def stop(self) -> None:
        self._listener.stop()

    def _listen(self, on_connected: Callable[[], None]) -> None:
        """Connect, call `on_connected` once listening, then `publish_local` what is heard;
        return or raise when the connection ends."""
        raise NotImplementedError


class PostgresNotifier(ListeningNotifier):
    authoritative = True
    listener_name = "notify-listener"

    def stored(self, channel: str, message_id: int) -> None:
        # Queued by PostgreSQL with the transaction: delivered to every listener (this
        # process's too) at commit, never for a rollback. This process's waiters are also
        # woken directly, sparing them the round trip.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [PG_CHANNEL, _payload(channel, message_id)])
        super().stored(channel, message_id)

    def _listen(self, on_connected: Callable[[], None]) -> None:
        with psycopg.connect(**_pg_params(), autocommit=True) as conn:
            conn.execute(f"LISTEN {PG_CHANNEL}")
            on_connected()
            while True:
                for notify in conn.notifies(timeout=LISTENER_HEALTH_INTERVAL):
                    parsed = _parse(notify.payload)
                    if parsed is not None:
                        self.publish_local(*parsed)
                # Nothing for a while: make sure the connection is still there.
                conn.execute("SELECT 1")


def _pg_params() -> dict[str, Any]:
    """Connection parameters of the default database (the test database, under tests)."""
    db = settings.DATABASES["default"]
    options = {k: v for k, v in db.get("OPTIONS", {}).items() if k != "pool"}
    params = {
        "dbname": db["NAME"],
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "application_name": LISTENER_APPLICATION_NAME,
        **options,
    }
    return {k: v for k, v in params.items() if v is not None}


class RedisNotifier(ListeningNotifier):
    listener_name = "redis-listener"

    def __init__(self) -> None:
        super().__init__()
        self._channel = settings.NOTIFY_REDIS_CHANNEL
        self._client: redis.Redis | None = None

    def stored(self, channel: str, message_id: int) -> None:
        transaction.on_commit(lambda: self.publish(channel, message_id))

    def publish(self, channel: str, message_id: int) -> None:
        self.publish_local(channel, message_id)
        try:
            self._redis().publish(self._channel, _payload(channel, message_id))
        except Exception as exc:
            # A hint lost: polls elsewhere find the message when their wait runs out.
            log.warning("redis publish failed: %s", exc)

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
            )
        return self._client

    def _listen(self, on_connected: Callable[[], None]) -> None:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, health_check_interval=0
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self._channel)
            on_connected()
            while True:
                message = pubsub.get_message(timeout=LISTENER_HEALTH_INTERVAL)
                if message is None:
                    pubsub.ping()
                elif message["type"] == "message":
                    parsed = _parse(message["data"].decode())
                    if parsed is not None:
                        self.publish_local(*parsed)
        finally:
            pubsub.close()
            client.close()


def build_notifier() -> LocalNotifier:
    backend = settings.NOTIFY_BACKEND
    if backend == "postgres":
        return PostgresNotifier()
    if backend == "redis":
        return RedisNotifier()
    return LocalNotifier()


notifier = build_notifier()


@asynccontextmanager
async def subscription(channel: str) -> AsyncIterator[Waiter]:
    waiter = notifier.subscribe(channel)
    try:
        yield waiter
    finally:
        notifier.unsubscribe(channel, waiter)


async def wait_for(
    channel: str, fetch: Callable[[], Awaitable[T]], timeout: float, *, after: int | None = None
) -> T:
    """Return what `fetch` finds, waiting up to `timeout` seconds for it to be truthy.

    With `after` (the poll's cursor), a look the notifier knows to be pointless (no message
    after `after` can exist) is skipped; the last one, when the wait runs out, never is.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with subscription(channel) as waiter:
        while True:
            waiter.clear()
            remaining = deadline - loop.time()
            if after is None or remaining <= 0 or not notifier.is_current(channel, after):
                epoch = notifier.epoch()
                found = await fetch()
                if found or remaining <= 0:
                    return found
                if after is not None:
                    notifier.note_current(channel, after, epoch)
            await waiter.wait(deadline - loop.time())
