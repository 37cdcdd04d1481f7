"""A PostgreSQL outage met by held long-polls: they answer in the API's format, and no broken
connection outlives it in any database thread.

The database's sessions are ended from an admin connection (`pg_terminate_backend`), as a
failover or a restart of PostgreSQL ends them; the server runs on a database of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.client import ChatUser
from tests.liveserver import LiveServer
from tests.servers import postgres_database
from tests.waiting import wait_until

METRICS = "metrics-token-for-the-outage-tests"
ORIGIN = "http://localhost:9"  # a loopback page, which the demo bots accept in DEBUG


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    with postgres_database("kc_outage") as url:
        live = LiveServer(
            tmp_path / "db.sqlite3",
            {"RATELIMIT_ENABLED": "false", "METRICS_TOKEN": METRICS},
            database_url=url,
        )
        live.migrate()
        live.start()
        try:
            yield live, url
        finally:
            live.stop(kill=True)


def terminate_sessions(url: str) -> int:
    """End every session of the database but this one; how many were ended."""
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def held(server: LiveServer) -> float:
    answer = httpx.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS}"}, timeout=10
    )
    for line in answer.text.splitlines():
        if line.startswith("kore_chat_longpolls_held "):
            return float(line.split()[1])
    raise AssertionError("no kore_chat_longpolls_held in /metrics")


def poll(user: ChatUser, after: int, wait: int) -> httpx.Response:
    return user.http.get(
        "/api/v1/messages",
        params={"after": after, "wait": wait},
        headers={"Origin": ORIGIN},
        timeout=60,
    )


def assert_api_answer(answer: httpx.Response) -> None:
    """200 with messages, or the API's 503 with a JSON body, Retry-After and CORS headers."""
    assert answer.headers.get("content-type") == "application/json", (
        answer.status_code,
        answer.text[:200],
    )
    assert answer.headers.get("access-control-allow-origin") == ORIGIN
    if answer.status_code != 200:
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "database_unavailable"
        assert int(answer.headers["retry-after"]) > 0


def test_held_polls_meeting_terminated_connections_answer_json_and_the_next_polls_succeed(
    server: tuple[LiveServer, str],
) -> None:
    live, url = server
    users = [ChatUser(live.url, identity=f"outage-{n}") for n in range(40)]
    with ThreadPoolExecutor(len(users)) as pool:
        waiting = [pool.submit(poll, user, 0, 15) for user in users]
        wait_until(lambda: held(live) >= len(users), message="the polls were never all held")
        assert terminate_sessions(url) > 0
        # Each listener that loses its connection wakes every poll, which looks again on
        # the database threads' connections, all ended.
        for answer in [future.result() for future in waiting]:
            assert_api_answer(answer)
    # The database is back (it never left): every poll succeeds, whichever thread serves it.
    for _ in range(3):
        answers = [poll(user, 0, 0) for user in users[:12]]
        assert [answer.status_code for answer in answers] == [200] * 12, [
            answer.text[:200] for answer in answers if answer.status_code != 200
        ]
        terminate_sessions(url)
