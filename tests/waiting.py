"""Waiting on a condition, never on the clock: a test that needs something to have happened
looks until it has (another process, a server, a thread), with a deadline that only turns a
hang into a failure. The deadline is generous on purpose: a loaded machine may be slow, but
the condition, not the time, is what the test asserts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# How often a condition is looked at again: short, as it only bounds how late a test notices.
INTERVAL = 0.02


def wait_until(check: Callable[[], T], timeout: float = 30, message: str = "") -> T:
    """The first true value `check` returns; fails if there is none within `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, message or f"never true within {timeout} s: {check}"
        time.sleep(INTERVAL)
    return result


async def async_wait_until(check: Callable[[], T], timeout: float = 30, message: str = "") -> T:
    """`wait_until` inside an event loop, which keeps running while it waits."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, message or f"never true within {timeout} s: {check}"
        await asyncio.sleep(INTERVAL)
    return result
