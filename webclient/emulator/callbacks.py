"""Asynchronous mode: the platform POSTs each bot message to the channel's POST_URL.

Deliveries run on plain threads, one per conversation while it has something queued, so they
never block a request and work the same under runserver (WSGI) and granian (ASGI). Within a
conversation they go out in order, each at its due time, as the platform serialises a user's
dialog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from webclient.emulator.state import state

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(5.0, connect=2.0)
# The platform's retry policy is undocumented; retrying transport errors and 5xx answers means
# the receiver may see a message twice, which it must tolerate anyway.
ATTEMPTS = 3
BACKOFF = 0.5


@dataclass(frozen=True)
class Delivery:
    due: float
    url: str
    bot_id: str
    user_id: str
    build: Callable[[], dict[str, Any]]


class CallbackDispatcher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queues: dict[tuple[str, str], deque[Delivery]] = {}

    def schedule(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            key = (delivery.bot_id, delivery.user_id)
            with self._lock:
                queue = self._queues.get(key)
                if queue is None:
                    queue = self._queues[key] = deque()
                    threading.Thread(
                        target=self._drain,
                        args=(key,),
                        name=f"emulator-callback-{key[1]}",
                        daemon=True,
                    ).start()
                queue.append(delivery)

    def wait_idle(self, timeout: float) -> bool:
        """Block until every queued delivery went out (tests)."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._queues, timeout)

    def _drain(self, key: tuple[str, str]) -> None:
        with httpx.Client(timeout=TIMEOUT) as client:
            while True:
                with self._lock:
                    queue = self._queues[key]
                    if not queue:
                        del self._queues[key]
                        self._idle.notify_all()
                        return
                    delivery = queue[0]
                time.sleep(max(0.0, delivery.due - time.monotonic()))
                self._post(client, delivery)
                with self._lock:
                    queue.popleft()

    def _post(self, client: httpx.Client, delivery: Delivery) -> None:
        body = delivery.build()
        for attempt in range(1, ATTEMPTS + 1):
            status: int | None = None
            try:
                status = client.post(delivery.url, json=body).status_code
            except httpx.HTTPError as exc:
                logger.warning("emulator callback to %s failed: %s", delivery.url, exc)
            state.record_callback(delivery.bot_id, delivery.user_id, delivery.url, status, body)
            if status is not None and status < 500:
                if status >= 400:
                    logger.warning("emulator callback to %s answered %s", delivery.url, status)
                return
            if attempt < ATTEMPTS:
                time.sleep(BACKOFF * attempt)


dispatcher = CallbackDispatcher()
