"""Prometheus metrics: what the code counts, and the `/metrics` page that shows them.

Each seam records with one call (kore/client.py: upstream calls; api/longpoll.py: held
polls; services.message_create: messages; api/callbacks.py: callbacks; security/ratelimit.py:
refusals). The outbox is not counted as it changes: its depth and the age of its oldest entry
are read from the database at scrape time, so every process reports the same truth.

Several workers: with PROMETHEUS_MULTIPROC_DIR set (before the process starts, an empty
directory shared by the workers), prometheus-client's multiprocess mode writes each
process's values to files there and a scrape adds them up, whichever worker answers it
(docs/operations.md). Without it, a scrape shows the answering process only.

`/metrics` answers only `Authorization: Bearer <METRICS_TOKEN>`; with no token set it does
not exist (404), so a deployment never exposes it by accident.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from webclient.models import Bot, Message
from webclient.sharedcache import SHARED_CACHE_UP

PREFIX = "kore_chat"

LONGPOLLS_HELD = Gauge(
    f"{PREFIX}_longpolls_held",
    "Long-polls waiting for a message right now.",
    multiprocess_mode="livesum",
)
MESSAGES = Counter(
    f"{PREFIX}_messages_total",
    "Messages stored: role user is in (from the widget), bot is out (to the widget).",
    ["bot", "role", "kind"],
)
UPSTREAM_SECONDS = Histogram(
    f"{PREFIX}_upstream_seconds",
    "Duration of each HTTP call to the Kore platform (one attempt; retries count again).",
    ["bot", "method"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30),
)
UPSTREAM_ERRORS = Counter(
    f"{PREFIX}_upstream_errors_total",
    "Upstream calls without a usable answer, by HTTP status or failure (timeout, connect…).",
    ["bot", "status"],
)
CALLBACKS = Counter(
    f"{PREFIX}_callbacks_total",
    "Calls to the POST_URL: stored, duplicate, undeliverable (kept for the admin) or refused.",
    ["bot", "outcome"],
)
RATE_LIMITED = Counter(
    f"{PREFIX}_rate_limited_total", "Requests refused with 429, by rule.", ["rule"]
)
OWN_METRICS = (
    LONGPOLLS_HELD,
    MESSAGES,
    UPSTREAM_SECONDS,
    UPSTREAM_ERRORS,
    CALLBACKS,
    RATE_LIMITED,
    SHARED_CACHE_UP,
)


@lru_cache(maxsize=1024)
def bot_slug(bot_id: int) -> str:
    """A label for a bot id (slugs rarely change; a renamed bot keeps its old label until
    the process restarts)."""
    return Bot.objects.filter(pk=bot_id).values_list("slug", flat=True).first() or str(bot_id)


def message_stored(*, bot_id: int, role: str, kind: str) -> None:
    """Counted when the transaction that stored it commits (a rollback counts nothing)."""
    transaction.on_commit(lambda: MESSAGES.labels(bot_slug(bot_id), role, kind).inc())


@contextmanager
def upstream_call(bot: str, method: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        UPSTREAM_SECONDS.labels(bot, method).observe(time.perf_counter() - started)


def upstream_failed(bot: str, status: int | str) -> None:
    UPSTREAM_ERRORS.labels(bot, str(status)).inc()


def callback_received(bot: str, outcome: str) -> None:
    CALLBACKS.labels(bot, outcome).inc()


def rate_limited(rule: str) -> None:
    RATE_LIMITED.labels(rule).inc()


class OutboxCollector(Collector):
    """Outbox depth and the age of its oldest entry, read from the database per scrape."""

    def collect(self) -> Iterator[Metric]:
        outbox = Message.objects.filter(status=Message.Status.ACCEPTED).aggregate(
            depth=Count("id"), oldest=Min("created_at")
        )
        depth = GaugeMetricFamily(
            f"{PREFIX}_outbox_depth", "User messages accepted and not yet forwarded or failed."
        )
        depth.add_metric([], outbox["depth"])
        yield depth
        oldest: datetime | None = outbox["oldest"]
        age = GaugeMetricFamily(
            f"{PREFIX}_outbox_oldest_age_seconds",
            "Age of the oldest message in the outbox (0 when it is empty).",
        )
        age.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
        yield age


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def scrape() -> bytes:
    """The exposition text: every process's values in multiprocess mode, else this one's."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in OWN_METRICS:
            registry.register(metric)
    registry.register(OutboxCollector())
    return generate_latest(registry)


def process_exited(pid: int) -> None:
    """A worker stops: its held long-polls stop counting (multiprocess mode only)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)


def metrics_view(request: HttpRequest) -> HttpResponse:
    token: str = settings.METRICS_TOKEN
    if not token:
        raise Http404
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
        return HttpResponse(
            "A valid bearer token is required.\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
