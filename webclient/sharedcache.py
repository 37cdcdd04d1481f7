"""Django's default cache when it is shared (Redis), and what each use does when it is down.

Two things live there: the rate-limit counters (webclient/security/ratelimit.py) and the
bots' generation number (webclient/botcache.py). Neither is worth an error to a user, so a
failing cache counts as down: for SHARED_CACHE_RETRY seconds calls skip it (no connection
attempt, and no wait for one, per request), then the next call tries it again, and the first
that succeeds ends the outage. One WARNING is logged per outage (and a line at INFO when it
ends), and the `kore_chat_shared_cache_up` gauge says which it is. Meanwhile:
- rate limits count in this process's memory (the `local` cache): each worker counts alone,
  as without REDIS_URL;
- cached bots are trusted for BOT_CACHE_SECONDS, as without a shared cache.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from prometheus_client import Gauge

T = TypeVar("T")

log = logging.getLogger(__name__)

# Seconds calls skip a cache that failed before one tries it again.
SHARED_CACHE_RETRY = 1.0

# Here rather than in webclient/metrics.py (which shows it on /metrics with the others), as
# this module sits below the models that metrics.py reads.
SHARED_CACHE_UP = Gauge(
    "kore_chat_shared_cache_up",
    "1 while the shared cache (Redis) answers, 0 during an outage (webclient/sharedcache.py).",
    multiprocess_mode="min",
)
SHARED_CACHE_UP.set(1)


class SharedCacheDown(Exception):
    """The shared cache is unreachable (or was a moment ago): use the fallback."""


class _State:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down = False
        self._retry_at = 0.0

    def skipping(self) -> bool:
        with self._lock:
            return self.down and time.monotonic() < self._retry_at

    def failed(self, exc: Exception) -> None:
        with self._lock:
            began = not self.down
            self.down = True
            self._retry_at = time.monotonic() + SHARED_CACHE_RETRY
        if began:
            SHARED_CACHE_UP.set(0)
            log.warning(
                "the shared cache is unreachable (%s: %s): rate limits count per process and "
                "cached bots are trusted for BOT_CACHE_SECONDS until it returns",
                type(exc).__name__,
                exc,
            )

    def succeeded(self) -> None:
        if not self.down:
            return
        with self._lock:
            ended, self.down = self.down, False
        if ended:
            SHARED_CACHE_UP.set(1)
            log.info("the shared cache is reachable again")


_state = _State()


def attempt(operation: Callable[[], T]) -> T:
    """`operation()` on the shared cache; SharedCacheDown when it is (or just was) down."""
    if _state.skipping():
        raise SharedCacheDown
    try:
        result = operation()
    except Exception as exc:  # any backend's failure: Redis, Memcached, a database
        _state.failed(exc)
        raise SharedCacheDown from exc
    _state.succeeded()
    return result


def reachable() -> bool:
    """Whether the shared cache answers now (asked, not remembered): for /readyz."""
    try:
        attempt(lambda: cache.get("kore-chat:ping"))
    except SharedCacheDown:
        return False
    return True
