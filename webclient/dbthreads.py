"""Small thread pools for running ORM calls from event-loop code.

Long-polls and the dispatcher each own one, so neither can starve the other, and each pool
bounds the database connections it holds to its size. Each thread keeps its connection, so a
query on a hot path does not pay for connecting.

A kept connection may have been ended meanwhile (PostgreSQL restarted, a failover, an
administrator's `pg_terminate_backend`): each thread learns it only when its next query
fails, possibly minutes later. So after any failure a thread drops every connection that no
longer works, and a pool made with `retry=True` (for calls that only read, which may run
twice) then runs the call once more, on a fresh connection: the first query after an
outage succeeds. (A connection the pool cannot make yet is retried by the pool itself, which
`DB_POOL_RECONNECT_TIMEOUT` keeps from backing off for long; see kore_chat/settings.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.db import InterfaceError, OperationalError, connections

T = TypeVar("T")


def drop_broken_connections() -> bool:
    """Close this thread's connections that failed and no longer work; whether any was."""
    dropped = False
    for connection in connections.all(initialized_only=True):
        if connection.errors_occurred and not connection.is_usable():
            connection.close()
            dropped = True
    return dropped


def _kept_connection() -> bool:
    return any(c.connection is not None for c in connections.all(initialized_only=True))


def _call(fn: Callable[..., T], retry: bool, *args: Any) -> T:
    # Only a connection kept from an earlier call can be stale: one that cannot be made
    # now will not be made on a second try either (the pool has already waited for it).
    kept = retry and _kept_connection()
    try:
        return fn(*args)
    except (OperationalError, InterfaceError):
        if not (drop_broken_connections() and kept):
            raise
    except BaseException:
        drop_broken_connections()
        raise
    try:
        return fn(*args)
    finally:
        drop_broken_connections()


class DbThreads:
    def __init__(self, name: str, size: int, *, retry: bool = False) -> None:
        self._name = name
        self._size = size
        self._retry = retry
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.submit(fn, *args)

    def submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """`fn(*args)` on one of the threads, as a future of the running event loop."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._size, thread_name_prefix=self._name)
        # The caller's context variables (its request id) hold in the thread too.
        context = contextvars.copy_context()
        return asyncio.get_running_loop().run_in_executor(
            self._executor, context.run, _call, fn, self._retry, *args
        )

    def close(self) -> None:
        """Give back each thread's connection (to the pool, on PostgreSQL) and end the
        threads, once what they run has finished; a later `submit` starts afresh."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # One call per thread: each waits for the others, so none takes two.
        barrier = threading.Barrier(self._size)

        def release() -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=10)
            connections.close_all()

        for _ in range(self._size):
            executor.submit(release)
        executor.shutdown(wait=True)
