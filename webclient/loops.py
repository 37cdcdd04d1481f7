"""State kept once per event loop.

The ASGI server runs one loop per worker; the development server's polls run each on a loop
of its own (`async_to_sync`), in threads of their own. A loop runs in one thread, so a value
kept in that thread, and made again when the thread's loop changes, is the loop's.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def per_loop(make: Callable[[asyncio.AbstractEventLoop], T]) -> Callable[[], T]:
    """A getter of the running loop's own `make(loop)`, made on first use."""
    local = threading.local()

    def get() -> T:
        loop = asyncio.get_running_loop()
        if getattr(local, "loop", None) is not loop:
            local.value, local.loop = make(loop), loop
        value: T = local.value
        return value

    return get
