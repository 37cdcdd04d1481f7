"""Small thread pools for running ORM calls from event-loop code.

Long-polls and the dispatcher each own one, so neither can starve the other, and each pool
bounds the database connections it holds to its size. Each thread keeps its connection, so a
query on a hot path does not pay for connecting.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.db import connections

T = TypeVar("T")


def _call(fn: Callable[..., T], *args: Any) -> T:
    try:
        return fn(*args)
    finally:
        # These threads are few and long-lived: each keeps its connection (so the pool size
        # bounds them) and drops it only when it broke.
        for connection in connections.all(initialized_only=True):
            if connection.errors_occurred and not connection.is_usable():
                connection.close()


class DbThreads:
    def __init__(self, name: str, size: int) -> None:
        self._name = name
        self._size = size
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
            self._executor, context.run, _call, fn, *args
        )
