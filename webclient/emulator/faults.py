"""Upstream failures on demand, for tests: "the next N calls to this bot answer 503".

In-process tests call `injector.fail_next(...)`; out-of-process tests use the DEBUG-only
control endpoint, which calls the same object.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass

# What a 429 tells the caller to wait, in seconds, unless the test says otherwise.
DEFAULT_RETRY_AFTER = 1


@dataclass(frozen=True)
class Fault:
    status: int
    retry_after: int | None = None


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, deque[Fault]] = defaultdict(deque)

    def fail_next(
        self, bot_id: str, status: int, count: int = 1, retry_after: int | None = None
    ) -> None:
        if not 400 <= status <= 599:
            raise ValueError("an injected failure needs a 4xx or 5xx status")
        if status == 429 and retry_after is None:
            retry_after = DEFAULT_RETRY_AFTER
        with self._lock:
            self._pending[bot_id].extend(Fault(status, retry_after) for _ in range(count))

    def take(self, bot_id: str) -> Fault | None:
        """The fault for this call, if one is queued for the bot; each is used once."""
        with self._lock:
            queue = self._pending.get(bot_id)
            return queue.popleft() if queue else None

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()


injector = FaultInjector()
