"""Wake-ups across processes: two server workers on one PostgreSQL database.

A long-poll held on one worker answers as soon as another worker stores a message, through
PostgreSQL's LISTEN/NOTIFY or through Redis pub/sub, and still does after its listener's
connection was cut.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.client import ChatUser
from tests.relay_helpers import METRICS_ENV, held_polls
from tests.scale.cluster import Cluster, cluster
from tests.servers import redis_url
from tests.waiting import wait_until


@pytest.fixture(params=["postgres", "redis"])
def two_workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    env = {"NOTIFY_BACKEND": request.param, **METRICS_ENV}
    if request.param == "redis":
        # A channel of this test's own: parallel runs share the Redis server.
        env |= {"REDIS_URL": redis_url(), "NOTIFY_REDIS_CHANNEL": f"kc-{secrets.token_hex(6)}"}
    with cluster(tmp_path, 2, env) as group:
        yield group


class HeldPoll:
    """A long-poll held in a thread; `answered_at` is when its answer arrived."""

    def __init__(self, user: ChatUser, after: int, wait: int = 20) -> None:
        self.answer: dict[str, Any] = {}
        self.answered_at = 0.0
        self._thread = threading.Thread(target=self._run, args=(user, after, wait))
        self._thread.start()

    def _run(self, user: ChatUser, after: int, wait: int) -> None:
        self.answer = user.poll(after=after, wait=wait)
        self.answered_at = time.monotonic()

    def result(self, timeout: float = 30) -> dict[str, Any]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the poll never answered"
        return self.answer


def users_on_both(group: Cluster) -> tuple[ChatUser, ChatUser]:
    """One user, the same identity through worker A and worker B (no sticky sessions)."""
    identity = f"scale-{uuid.uuid4()}"
    on_a = ChatUser(group.workers[0].url, "demo", identity=identity)
    on_b = ChatUser(group.workers[1].url, "demo", identity=identity)
    return on_a, on_b


def test_a_poll_held_on_one_worker_answers_within_100ms_of_a_send_through_another(
    two_workers: Cluster,
) -> None:
    on_a, on_b = users_on_both(two_workers)
    cursor = on_a.poll(after=0, wait=0)["cursor"]
    for n in range(3):
        poll = HeldPoll(on_a, cursor)
        wait_until(lambda: held_polls(two_workers.workers[0]) == 1, message="not held on A")
        sent = on_b.send(text=f"ping {n}")
        sent_at = time.monotonic()
        assert sent.status_code == 202
        answer = poll.result()
        assert [m["text"] for m in answer["messages"]][:1] == [f"ping {n}"]
        assert poll.answered_at - sent_at < 0.1
        # Let the bot's answer go by before the next round (polling on from this answer).
        if not any(m["role"] == "bot" for m in answer["messages"]):
            on_a.wait_for(lambda m: m["role"] == "bot")
        cursor = on_a.cursor


def listener_pids(group: Cluster) -> set[object]:
    rows = group.query(
        "SELECT pid FROM pg_stat_activity"
        " WHERE application_name = 'kore-chat listener' AND datname = current_database()"
    )
    return {pid for (pid,) in rows}


def test_a_poll_still_wakes_within_a_second_after_its_listener_connection_was_killed(
    tmp_path: Path,
) -> None:
    with cluster(tmp_path, 2, {"NOTIFY_BACKEND": "postgres", **METRICS_ENV}) as group:
        on_a, on_b = users_on_both(group)
        cursor = on_a.poll(after=0, wait=0)["cursor"]
        polls = [HeldPoll(on_a, cursor) for _ in range(5)]
        wait_until(lambda: held_polls(group.workers[0]) == 5, message="the polls were not held")
        wait_until(lambda: len(listener_pids(group)) >= 2, message="a listener is missing")
        before = listener_pids(group)
        assert len(before) == 2  # one per worker, not one per poll
        killed = group.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'kore-chat listener' AND datname = current_database()"
        )
        assert killed == [(True,), (True,)]
        assert on_b.send(text="after the cut").status_code == 202
        sent_at = time.monotonic()
        for poll in polls:
            answer = poll.result()
            assert [m["text"] for m in answer["messages"]][:1] == ["after the cut"]
            assert poll.answered_at - sent_at < 1
        # The listeners came back, on new connections.
        wait_until(lambda: len(listener_pids(group)) >= 2, message="no listener reconnected")
        assert not listener_pids(group) & before
