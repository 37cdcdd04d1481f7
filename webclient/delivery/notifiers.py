"""How a stored message wakes long-polls, in this process and in every other one.

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

The same connections carry the outbox's wake-ups to relay processes (`manage.py relay`): a
process that accepted a message without running the dispatcher calls `outbox(conversation)`
once it committed, and every listening process hears it, its own included, and runs the
hooks it registered with `on_outbox` (a web worker has none); after its listener reconnects,
its hooks get None: look at the whole outbox, a wake-up may have been missed.

A listener whose connection drops reconnects with back-off, then wakes all its waiters once:
they look again, so a notification missed meanwhile costs no more than that query.

Each notifier keeps the knowledge of what its channels hold (webclient/delivery/knowledge.py),
told of every change it hears:
- `LocalNotifier` hears every change: SQLite serves one process (`python -m kore_chat.serve`
  refuses several workers with it), which stores every message itself.
- `PostgresNotifier` does while its LISTEN connection is up: from then on it hears every
  commit of every process. Whatever was known is forgotten whenever the connection drops.
- `RedisNotifier` does not: a process that dies between its commit and its PUBLISH loses the
  hint, so its polls always query.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

import psycopg
import redis
from django.conf import settings
from django.db import connection, transaction

from webclient.delivery.knowledge import Knowledge

log = logging.getLogger(__name__)

# Reconnect back-off of a listener: first delay, growth, cap (seconds, jittered).
RECONNECT_FIRST, RECONNECT_MAX = 0.05, 5.0
# A listener checks its connection at least this often (seconds) when nothing arrives.
LISTENER_HEALTH_INTERVAL = 5.0
PG_CHANNEL = "kore_chat_messages"
PG_OUTBOX_CHANNEL = "kore_chat_outbox"
# How a listener's connection shows in pg_stat_activity.
LISTENER_APPLICATION_NAME = "kore-chat listener"


class Waiter:
    """One waiting long-poll: a future on the event loop that created it, made when it waits
    (no task of its own: a held poll costs memory and a task switch per wake-up)."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._woken = False
        self._future: asyncio.Future[None] | None = None

    def wake(self) -> None:
        # Called from any thread; the loop may already be gone if the poll just ended.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._set)

    def _set(self) -> None:
        self._woken = True
        if self._future is not None:
            _resolve(self._future)

    def clear(self) -> None:
        self._woken = False

    async def wait(self, timeout: float) -> None:
        """Until woken (since the last `clear`) or `timeout` seconds have passed."""
        if self._woken:
            return
        future = self._future = self._loop.create_future()
        timer = self._loop.call_later(timeout, _resolve, future)
        try:
            await future
        finally:
            timer.cancel()
            self._future = None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Notifier(Protocol):
    knowledge: Knowledge

    def subscribe(self, channel: str) -> Waiter: ...

    def unsubscribe(self, channel: str, waiter: Waiter) -> None: ...

    def stored(self, channel: str, message_id: int) -> None:
        """Inside the transaction that stored `message_id`: wake its channel once committed."""

    def changed(self, channel: str) -> None:
        """Inside the transaction that changed the conversation's `pending`: the same, with
        no new message."""

    def listening(self) -> bool:
        """Whether this process hears of other processes' stores."""


class LocalNotifier:
    """Waiters of this process; other backends add a way to hear of other processes' stores."""

    # Whether this backend hears of every change while connected (see the module's doc).
    authoritative = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[Waiter]] = defaultdict(set)
        self.knowledge = Knowledge(self.authoritative)
        self._outbox_hooks: list[Callable[[int | None], None]] = []

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

    def changed(self, channel: str) -> None:
        transaction.on_commit(lambda: self.publish_local(channel, None))

    def on_outbox(self, hook: Callable[[int | None], None]) -> None:
        """Run `hook(conversation_id)` for each outbox wake-up any process sends, and
        `hook(None)` when some may have been missed."""
        self._outbox_hooks.append(hook)

    def outbox(self, conversation_id: int) -> None:
        """Once the caller's transaction commits: the conversation has outbox work."""
        transaction.on_commit(lambda: self.publish_outbox(conversation_id))

    def publish_outbox(self, conversation_id: int | None) -> None:
        for hook in self._outbox_hooks:
            hook(conversation_id)

    def publish_local(self, channel: str, message_id: int | None) -> None:
        """Wake this process's waiters on `channel`: `message_id` (or a change of `pending`
        alone, with None) was committed."""
        self.knowledge.heard(channel, message_id)
        with self._lock:
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

    def listener_connected(self) -> None:
        """The listener hears every commit from now on: start a new stretch of knowledge, and
        wake every waiter once, since it may have missed notifications before."""
        self.knowledge.restart()
        self.wake_all()
        self.publish_outbox(None)

    def listener_disconnected(self) -> None:
        self.knowledge.stop()

    def listening(self) -> bool:
        """Whether this process hears of other processes' stores (always, here)."""
        return True

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


# A notification is "<message id> <channel>", or "- <channel>" for a change of `pending`.
NO_MESSAGE = "-"


def _parse(payload: str) -> tuple[str, int | None] | None:
    message_id, _, channel = payload.partition(" ")
    if not (message_id.isdigit() or message_id == NO_MESSAGE) or not channel:
        log.warning("ignoring a malformed notification %r", payload[:100])
        return None
    return channel, int(message_id) if message_id != NO_MESSAGE else None


def _payload(channel: str, message_id: int | None) -> str:
    return f"{NO_MESSAGE if message_id is None else message_id} {channel}"


class ListeningNotifier(LocalNotifier):
    """A notifier that hears other processes' stores on one connection, in a thread; it
    knows nothing until that connection is up."""

    authoritative = False
    listener_name = "listener"

    def __init__(self) -> None:
        super().__init__()
        self.knowledge.stop()
        self._listener = _Listener(self.listener_name, self)

    def subscribe(self, channel: str) -> Waiter:
        self.start()
        return super().subscribe(channel)

    def start(self) -> None:
        self._listener.start(self._listen)

    def listening(self) -> bool:
        return self._listener.connected.is_set()

    def stop(self) -> None:
        self._listener.stop()

    def _heard_outbox(self, payload: str) -> None:
        if payload.isdigit():
            self.publish_outbox(int(payload))
        else:
            log.warning("ignoring a malformed outbox notification %r", payload[:100])

    def _listen(self, on_connected: Callable[[], None]) -> None:
        """Connect, call `on_connected` once listening, then `publish_local` what is heard;
        return or raise when the connection ends."""
        raise NotImplementedError


class PostgresNotifier(ListeningNotifier):
    authoritative = True
    listener_name = "notify-listener"

    def stored(self, channel: str, message_id: int) -> None:
        self._notify(channel, message_id)
        super().stored(channel, message_id)

    def changed(self, channel: str) -> None:
        self._notify(channel, None)
        super().changed(channel)

    def outbox(self, conversation_id: int) -> None:
        # Heard by every listening process, this one's too.
        transaction.on_commit(
            lambda: self._pg_notify(PG_OUTBOX_CHANNEL, str(conversation_id)), robust=True
        )

    def _pg_notify(self, pg_channel: str, payload: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [pg_channel, payload])

    def _notify(self, channel: str, message_id: int | None) -> None:
        # Queued by PostgreSQL with the transaction: delivered to every listener (this
        # process's too) at commit, never for a rollback. This process's waiters are also
        # woken directly (by the caller's on_commit), sparing them the round trip.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [PG_CHANNEL, _payload(channel, message_id)])

    def _listen(self, on_connected: Callable[[], None]) -> None:
        with psycopg.connect(**_pg_params(), autocommit=True) as conn:
            conn.execute(f"LISTEN {PG_CHANNEL}")
            conn.execute(f"LISTEN {PG_OUTBOX_CHANNEL}")
            on_connected()
            while True:
                for notify in conn.notifies(timeout=LISTENER_HEALTH_INTERVAL):
                    if notify.channel == PG_OUTBOX_CHANNEL:
                        self._heard_outbox(notify.payload)
                        continue
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
        self._publish_failing = False

    def stored(self, channel: str, message_id: int) -> None:
        transaction.on_commit(lambda: self.publish(channel, message_id))

    def changed(self, channel: str) -> None:
        transaction.on_commit(lambda: self.publish(channel, None))

    def outbox(self, conversation_id: int) -> None:
        transaction.on_commit(lambda: self._publish_outbox(conversation_id))

    def _publish_outbox(self, conversation_id: int) -> None:
        # Heard by every subscribed process, this one's too. A lost one is found by the
        # relay's next look at the whole outbox.
        try:
            self._redis().publish(self._outbox_channel, str(conversation_id))
        except Exception as exc:
            log.warning("redis publish failed (%s); the relay finds the message later", exc)

    @property
    def _outbox_channel(self) -> str:
        return f"{self._channel}:outbox"

    def publish(self, channel: str, message_id: int | None) -> None:
        self.publish_local(channel, message_id)
        try:
            self._redis().publish(self._channel, _payload(channel, message_id))
        except Exception as exc:
            # A hint lost: polls elsewhere find the message when they look again (within
            # LONGPOLL_KNOWLEDGE_SECONDS). Said once per outage.
            if not self._publish_failing:
                self._publish_failing = True
                log.warning("redis publish failed (%s); other processes' polls look later", exc)
        else:
            self._publish_failing = False

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
            pubsub.subscribe(self._channel, self._outbox_channel)
            on_connected()
            while True:
                message = pubsub.get_message(timeout=LISTENER_HEALTH_INTERVAL)
                if message is None:
                    pubsub.ping()
                elif message["type"] == "message" and message["channel"] == (
                    self._outbox_channel.encode()
                ):
                    self._heard_outbox(message["data"].decode())
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
