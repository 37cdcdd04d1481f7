"""Enabled bots kept in memory for the hot path: verifying the token of every poll and send.

Reading a bot costs a query and four Fernet decryptions (its secrets); a poll cycle needs
the bot only to check a signature. So each process keeps the enabled bots it has read, and
forgets them when a bot changes:

- in this process, at once: a save, delete or queryset update of bots drops every entry
  (and again when its transaction commits, so that no read made before the commit
  outlives it);
- in other processes, through a generation number in Django's default cache, bumped by the
  same save and read again at most every BOT_CHANGE_CHECK_SECONDS (1 s): within that when
  the cache is shared (Redis). Reading it on every lookup was a blocking round trip to
  Redis on the event loop for every poll;
- in any case, after BOT_CACHE_SECONDS: the bound for several processes that share no
  cache, and while the shared cache is down.

Only enabled bots are kept: a disabled or unknown bot is looked up in the database each
time. A caller that finds a cached bot's secret wrong (rotated in another process) asks
again with `fresh=True`. Callers get a copy, never the shared instance.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from webclient.models import Bot, bots_updated
from webclient.sharedcache import SharedCacheDown, attempt

GENERATION_KEY = "kore-chat:bots:generation"

_lock = threading.Lock()
# slug -> (bot, when it was read (monotonic), the generation current before it was read)
_bots: dict[str, tuple[Bot, float, Any]] = {}
# The generation last read from the cache, and when (monotonic).
_seen: tuple[float, Any] | None = None


def _generation() -> Any:
    """The generation, or None while the shared cache is down (then only the time bound,
    BOT_CACHE_SECONDS, applies: webclient/sharedcache.py)."""
    global _seen
    try:
        generation = attempt(lambda: cache.get(GENERATION_KEY, 0))
    except SharedCacheDown:
        generation = None
    _seen = (time.monotonic(), generation)
    return generation


def _recent_generation() -> Any:
    """The generation, read from the cache only if the last read is older than
    BOT_CHANGE_CHECK_SECONDS."""
    seen = _seen
    if seen is not None and time.monotonic() - seen[0] < settings.BOT_CHANGE_CHECK_SECONDS:
        return seen[1]
    return _generation()


def cached_bot(slug: str) -> Bot | None:
    """The enabled bot from memory, or None when only the database can tell."""
    with _lock:
        entry = _bots.get(slug)
    if entry is None:
        return None
    bot, read_at, generation = entry
    if time.monotonic() - read_at > settings.BOT_CACHE_SECONDS:
        return None
    current = _recent_generation()
    # A bot read while the cache was down is read again once it is back.
    if current is not None and generation != current:
        return None
    return copy.copy(bot)


def enabled_bot(slug: str, *, fresh: bool = False) -> Bot | None:
    """The enabled bot with this slug, or None; from memory unless `fresh` or unknown."""
    if not fresh:
        bot = cached_bot(slug)
        if bot is not None:
            return bot
    generation = _generation()
    found = Bot.objects.filter(slug=slug, enabled=True).first()
    with _lock:
        if found is None:
            _bots.pop(slug, None)
        else:
            _bots[slug] = (found, time.monotonic(), generation)
    return copy.copy(found) if found is not None else None


def forget_all() -> None:
    global _seen
    with _lock:
        _bots.clear()
        _seen = None


def _bump() -> None:
    forget_all()
    with contextlib.suppress(SharedCacheDown):
        # Down: other processes fall back on BOT_CACHE_SECONDS.
        attempt(lambda: cache.add(GENERATION_KEY, 1, timeout=None) or cache.incr(GENERATION_KEY))


def _bot_changed(sender: Any, **kwargs: Any) -> None:
    _bump()
    transaction.on_commit(_bump)


post_save.connect(_bot_changed, sender=Bot, dispatch_uid="botcache-save")
post_delete.connect(_bot_changed, sender=Bot, dispatch_uid="botcache-delete")
bots_updated.connect(_bot_changed, sender=Bot, dispatch_uid="botcache-update")
