"""The outbox with two workers on one PostgreSQL database, checked against the emulator's
record of what the bot received (the emulator runs in a process of its own, so its record
outlives a killed worker). Each test runs in both layouts: the embedded one (every worker
runs a dispatcher) and the production one (two web workers without one, and one
`manage.py relay` process).
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.client import ChatUser
from tests.relay_helpers import (
    METRICS_ENV,
    Messages,
    emulator_record,
    held_polls,
    of_role,
    texts,
    utterance,
)
from tests.scale.cluster import cluster
from tests.waiting import wait_until

GREETING = "Hello! Nice to meet you."

# How many relay processes run beside the web workers: none (embedded) or one (production).
LAYOUTS = pytest.mark.parametrize("relays", [0, 1], ids=["embedded", "production"])


def received_in_order(base_url: str, identity: str) -> list[Any]:
    """What the bot was sent for this user, in the order the requests arrived."""
    requests = emulator_record(base_url, identity)["requests"]
    return [utterance(r["body"]["message"]) for r in sorted(requests, key=lambda r: r["seq"])]


def follow(users: list[ChatUser], done: Any, timeout: float = 60) -> Messages:
    """Follow the cursor with long-polls, taking turns over the workers, until `done`."""
    received: Messages = []
    cursor = users[0].cursor
    deadline = time.monotonic() + timeout
    turn = 0
    while not done(received):
        assert time.monotonic() < deadline, f"not done within {timeout}s: {received}"
        user = users[turn % len(users)]
        turn += 1
        answer = user.poll(after=cursor, wait=2)
        received += answer["messages"]
        cursor = answer["cursor"]
    return received


@LAYOUTS
def test_a_killed_worker_loses_nothing_and_its_queue_is_forwarded_once_by_another(
    tmp_path: Path, relays: int
) -> None:
    lease = {"KORE_FORWARD_LEASE": "2", **METRICS_ENV}
    with cluster(tmp_path, 2, lease, emulator=True, relays=relays) as group:
        a, b = group.workers
        assert group.emulator is not None
        upstream = group.emulator.url
        identity = f"kill-{uuid.uuid4()}"
        on_a = ChatUser(a.url, "demo-v1-sync", identity=identity)
        # A forward in flight on A: the platform holds this V1 sync call for 10 s.
        on_a.send(text="slow 10")
        wait_until(
            lambda: emulator_record(upstream, identity)["requests"],
            message="the forward never started",
        )
        # More queued behind it (A serves the conversation; they wait their turn).
        for text in ("one", "two", "three"):
            assert on_a.send(text=text).status_code == 202
        seen = on_a.poll(after=0, wait=0)
        assert [(m["text"], m["status"]) for m in seen["messages"]] == [
            ("slow 10", "accepted"),
            ("one", "accepted"),
            ("two", "accepted"),
            ("three", "accepted"),
        ]
        # Polls held on A when it dies.
        with ThreadPoolExecutor(2) as pool:
            held = [pool.submit(on_a.poll, seen["cursor"], 20) for _ in range(2)]
            wait_until(lambda: held_polls(a) == 2, message="the polls were not held")
            a.stop(kill=True)
            if group.relays:
                # The relay forwarding "slow 10" dies too; a restarted one takes over.
                group.relays[0].kill()
                group.relays[0].start()
            for poll in held:
                try:
                    poll.result(5)
                except httpx.HTTPError:
                    continue
                raise AssertionError("a poll held on the killed worker answered")

        # The client resumes on B from its cursor.
        on_b = ChatUser(b.url, "demo-v1-sync", identity=identity)
        on_b.cursor = seen["cursor"]
        resumed = follow([on_b], lambda ms: len(of_role(ms, "bot")) == 3 and of_role(ms, "system"))
        # Nothing lost: what the cursor brought is the rest of the conversation's log.
        history = on_b.history()
        assert [m["id"] for m in history] == [m["id"] for m in seen["messages"] + resumed]
        # The one in flight: failed visibly by the lease rules, never sent again.
        statuses = {m["text"]: m["status"] for m in of_role(history, "user")}
        assert statuses == {"slow 10": "failed", "one": "sent", "two": "sent", "three": "sent"}
        (notice,) = of_role(history, "system")
        assert notice["data"]["refersTo"] == seen["messages"][0]["id"]
        assert "interrupted" in notice["text"]
        # The queued ones: forwarded by B once each, in order, and answered in order.
        assert texts(history) == ["You said: one", "You said: two", "You said: three"]
        # A marker after them: forwarded in order, so once it is answered, any second
        # forward of the others would have been made too.
        on_b.send(text="the marker")
        on_b.wait_for(lambda m: m["text"] == "You said: the marker")
        assert received_in_order(upstream, identity) == [
            "slow 10",
            "one",
            "two",
            "three",
            "the marker",
        ]


@LAYOUTS
def test_a_burst_over_two_workers_is_forwarded_once_in_order_and_answered(
    tmp_path: Path, relays: int
) -> None:
    conversations, per_conversation = 50, 10
    with cluster(tmp_path, 2, emulator=True, relays=relays) as group:
        a, b = group.workers
        assert group.emulator is not None
        upstream = group.emulator.url

        def converse(n: int) -> tuple[str, list[str], Messages, Messages]:
            identity = f"burst-{n}-{uuid.uuid4()}"
            users = [ChatUser(w.url, "demo", identity=identity) for w in (a, b)]
            words = [f"message {k} of {n}" for k in range(per_conversation)]
            for k, word in enumerate(words):
                # Each send through the other worker than the last: no sticky sessions.
                assert users[k % 2].send(text=word).status_code == 202
            answers = follow(users, lambda ms: len(of_role(ms, "bot")) == per_conversation)
            return identity, words, answers, users[0].history()

        with ThreadPoolExecutor(10) as pool:
            results = list(pool.map(converse, range(conversations)))

        # A marker in each conversation: forwarded in order, so once it is answered, any
        # second forward of the others would have been made too.
        def marked(identity: str) -> None:
            user = ChatUser(b.url, "demo", identity=identity)
            assert user.send(text="the marker").status_code == 202
            user.wait_for(lambda m: m["text"] == "You said: the marker")

        with ThreadPoolExecutor(10) as pool:
            list(pool.map(marked, [identity for identity, *_ in results]))
        for identity, words, answers, history in results:
            # Every message delivered through the cursor, nothing skipped (statuses may have
            # moved on since: a user message is `accepted` first, then `sent`).
            assert [m["id"] for m in answers] == [m["id"] for m in history]
            assert [m["text"] for m in of_role(history, "user")] == words
            assert all(m["status"] == "sent" for m in of_role(history, "user"))
            assert texts(history) == [f"You said: {word}" for word in words]
            # Forwarded exactly once each, in order.
            assert received_in_order(upstream, identity) == [*words, "the marker"]
