"""Fixed-window rate limits kept in Django's cache, answering 429 with `Retry-After`.

The rules and their counting live here; the API applies them as DRF throttles
(webclient/api/throttles.py), the Kore callback (a plain view) through
`count_callback_refusal`, and that layer counts what was refused in the metrics.

The default cache is per process (locmem): a deployment with several processes needs a
shared cache (Redis, Memcached, the database cache) or each process counts on its own. While
a shared cache is down, each process counts on its own too (webclient/sharedcache.py).
Limits are per minute-long window by default and come from the environment
(RATELIMIT_* settings); a limit of 0 switches that rule off.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import BaseCache, cache, caches
from django.http import HttpRequest

from webclient.errors import ApplicationError, Kind
from webclient.security.proxies import client_address
from webclient.sharedcache import SharedCacheDown, attempt


def rate_limited(retry_after: int) -> ApplicationError:
    return ApplicationError(
        "rate_limited",
        f"Too many requests; try again in {retry_after} s.",
        Kind.RATE_LIMITED,
        retry_after=retry_after,
    )


@dataclass(frozen=True)
class Rule:
    name: str
    setting: str

    @property
    def limit(self) -> int:
        return int(getattr(settings, self.setting))


STS_PER_IP = Rule("sts-ip", "RATELIMIT_STS_PER_IP")
SEND_PER_IDENTITY = Rule("send-identity", "RATELIMIT_SEND_PER_IDENTITY")
SEND_PER_IP = Rule("send-ip", "RATELIMIT_SEND_PER_IP")
# Callbacks: only refused attempts count (wrong secret or bot). Throttling authenticated
# callbacks would drop bot messages, since the platform's retries are undocumented.
CALLBACK_REFUSALS_PER_IP = Rule("callback-refusals-ip", "RATELIMIT_CALLBACK_REFUSALS_PER_IP")


def client_ip(request: HttpRequest) -> str:
    """The client's address: the peer, or what a trusted proxy forwarded (TRUSTED_PROXIES)."""
    peer = str(request.META.get("REMOTE_ADDR") or "unknown")
    return client_address(peer, request.META.get("HTTP_X_FORWARDED_FOR"))


def _window() -> tuple[int, float]:
    window = settings.RATELIMIT_WINDOW
    now = time.time()
    return int(now // window) * window, now


def _cache_key(rule: Rule, key: str, start: int) -> str:
    # Hashed: identities are arbitrary text, cache keys must stay short and plain.
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"ratelimit:{rule.name}:{digest}:{start}"


def _active(rule: Rule) -> bool:
    return bool(settings.RATELIMIT_ENABLED) and rule.limit > 0


def _seconds_left(start: int, now: float) -> int:
    return max(1, math.ceil(start + settings.RATELIMIT_WINDOW - now))


def _increment(counters: BaseCache, cache_key: str, timeout: int) -> int:
    if counters.add(cache_key, 1, timeout=timeout):
        return 1
    try:
        return int(counters.incr(cache_key))
    except ValueError:
        # The entry expired between add() and incr(): this request opens a new window.
        counters.set(cache_key, 1, timeout=timeout)
        return 1


def count(rule: Rule, key: str) -> int | None:
    """Count one request against `rule` for `key`.

    None while within the limit; over it, the seconds until the window ends (Retry-After).
    """
    if not _active(rule):
        return None
    start, now = _window()
    cache_key = _cache_key(rule, key, start)
    timeout = settings.RATELIMIT_WINDOW + 1
    try:
        used = attempt(lambda: _increment(cache, cache_key, timeout))
    except SharedCacheDown:
        # Counted in this process alone until the shared cache returns (sharedcache.py).
        used = _increment(caches["local"], cache_key, timeout)
    if used > rule.limit:
        return _seconds_left(start, now)
    return None


def count_callback_refusal(request: HttpRequest) -> int | None:
    """Count a refused callback: None within the limit, else the seconds to Retry-After
    (past the limit the refusal is a 429 instead of a 404)."""
    return count(CALLBACK_REFUSALS_PER_IP, client_ip(request))
