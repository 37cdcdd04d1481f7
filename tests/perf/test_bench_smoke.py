"""A few seconds of the benchmark (bench/, issue 13), ratios only and generous bounds: the
full measurements are `make bench`'s, not the test suite's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.harness import Server, server
from bench.longpoll_bench import HELD_ENV, held_polls, idle_cycle


def tokens(srv: Server, count: int, prefix: str) -> dict[str, str]:
    """Tokens from the server's own STS (the demo bot takes the browser's identity)."""
    found = {}
    with httpx.Client(base_url=srv.url) as http:
        for n in range(count):
            identity = f"{prefix}-{n}"
            answer = http.post("/api/v1/sts", json={"bot": "demo", "identity": identity})
            found[identity] = answer.json()["jwt"]
    return found


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("smoke") / "bench.sqlite3"
    with server(path, HELD_ENV) as running:
        yield running


def test_an_idle_poll_costs_no_query_and_less_than_a_request_through_django(srv: Server) -> None:
    measured = asyncio.run(idle_cycle(srv, tokens(srv, 4, "idle"), cycles=200, timeouts=1))
    assert measured["wait0"]["queries_each"] == 0
    assert measured["wait1"]["queries_each"] == 0
    assert measured["wait0"]["cpu_ms_each"] < measured["django"]["cpu_ms_each"] / 2


def test_held_polls_are_all_held_and_each_answers_its_own_message(
    srv: Server, tmp_path: Path
) -> None:
    polls = tokens(srv, 200, "held")
    held = asyncio.run(held_polls(srv, polls, 10, tmp_path / "held", baseline=False))
    # held_polls fails unless every poll was held and answered only by its message.
    assert held["connections_held"] >= 200
    assert held["delivery_while_held"]["p99"] < 1000
