"""A conversation through a Redis outage, then a PostgreSQL one, each lasting until the
conversation has gone through it (sent and read through the Redis one, been refused a few
times by the PostgreSQL one).

Real servers: a redis-server of the test's own, killed and started again, and the real
PostgreSQL, whose test database refuses connections and has its sessions ended for the
outage (`ALLOW_CONNECTIONS false`, `pg_terminate_backend`), as a restart would. Throughout,
no answer is a 5xx without the JSON error body, no message is lost or stored twice, and
every request succeeds again within 5 s of the service's return.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from tests.client import ChatUser
from tests.liveserver import LiveServer
from tests.servers import postgres_database, redis_server
from tests.waiting import wait_until

RECOVERY = 5.0


@dataclass
class Record:
    """Every request the conversation made: when it started, what it was, its status."""

    answers: list[tuple[float, str, int, str]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)


def converse(user: ChatUser, record: Record, stop: threading.Event) -> None:
    """Send a numbered text (the same clientMessageId until it is accepted) and poll, in turns."""
    number = 0
    client_id = str(uuid.uuid4())
    while not stop.is_set():
        for kind in ("send", "poll"):
            started = time.monotonic()
            try:
                if kind == "send":
                    answer = user.send(client_message_id=client_id, text=f"message {number}")
                else:
                    answer = user.http.get(
                        "/api/v1/messages", params={"after": user.cursor, "wait": 1}
                    )
            except httpx.TransportError as exc:
                record.answers.append((started, kind, 0, type(exc).__name__))
                stop.wait(0.2)  # a client's back-off
                continue
            record.answers.append(
                (started, kind, answer.status_code, answer.headers.get("content-type", ""))
            )
            if answer.status_code in (200, 202) and kind == "send":
                record.sent.append(client_id)
                number += 1
                client_id = str(uuid.uuid4())
            elif answer.status_code == 200:
                user.cursor = answer.json()["cursor"]
            else:
                stop.wait(0.2)  # a client's back-off


def accepted_since(record: Record, since: float) -> int:
    """Messages accepted by sends started at or after `since` (monotonic)."""
    return sum(a[0] >= since and a[1] == "send" and a[2] in (200, 202) for a in record.answers)


def refused_since(record: Record, since: float) -> int:
    return sum(a[0] >= since and a[2] not in (200, 202) for a in record.answers)


def full_history(user: ChatUser) -> list[dict[str, object]]:
    """Every message of the conversation, page after page."""
    messages: list[dict[str, object]] = []
    while page := user.poll(after=user.cursor, wait=0)["messages"]:
        messages += page
    return messages


def database_outage(url: str, admin_url: str, allow: bool) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.SQL("true" if allow else "false")
            )
        )
        if not allow:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [name],
            )


def test_a_conversation_survives_a_redis_then_a_postgresql_outage(tmp_path: Path) -> None:
    with postgres_database("kc_outages") as url, redis_server(tmp_path) as cache:
        admin_url = url.rsplit("/", 1)[0] + "/postgres"
        server = LiveServer(
            tmp_path / "db.sqlite3",
            {
                "REDIS_URL": cache.url,
                "NOTIFY_BACKEND": "redis",
                "CACHE_KEY_PREFIX": f"outages-{uuid.uuid4().hex[:8]}",
                "RATELIMIT_SEND_PER_IDENTITY": "10000",
                "RATELIMIT_SEND_PER_IP": "10000",
                "RATELIMIT_STS_PER_IP": "10000",
                "DB_POOL_TIMEOUT": "2",
            },
            database_url=url,
        )
        server.migrate()
        server.start()
        record = Record()
        stop = threading.Event()
        user = ChatUser(server.url, identity="through-the-outages")
        talking = threading.Thread(target=converse, args=(user, record, stop))
        talking.start()
        try:
            talking_since = time.monotonic()
            wait_until(lambda: accepted_since(record, talking_since) >= 3)
            cache.kill()
            redis_down = time.monotonic()
            wait_until(lambda: accepted_since(record, redis_down) >= 5, timeout=60)
            cache.start()
            redis_back = time.monotonic()
            # Requests past the end of the recovery window that is checked below.
            wait_until(lambda: accepted_since(record, redis_back + RECOVERY + 2), timeout=60)
            database_outage(url, admin_url, allow=False)
            database_down = time.monotonic()
            try:
                wait_until(lambda: refused_since(record, database_down) >= 5, timeout=60)
            finally:
                database_outage(url, admin_url, allow=True)
            database_back = time.monotonic()
            wait_until(lambda: accepted_since(record, database_back + RECOVERY) >= 2, timeout=60)
        finally:
            stop.set()
            talking.join(timeout=60)
        try:
            history = full_history(ChatUser(server.url, identity="through-the-outages"))
        finally:
            server.stop()

    answers = record.answers
    # No 5xx without the JSON body, ever.
    bare = [a for a in answers if a[2] >= 500 and a[3] != "application/json"]
    assert not bare, bare
    # Every request made once the service was back for RECOVERY seconds succeeded.
    for back, until in ((redis_back, redis_back + RECOVERY + 2), (database_back, float("inf"))):
        late = [a for a in answers if back + RECOVERY <= a[0] < until and a[2] not in (200, 202)]
        assert not late, late
    # The Redis outage cost nothing at all.
    during_redis = [a for a in answers if redis_down < a[0] < redis_back]
    assert during_redis and all(a[2] in (200, 202) for a in during_redis), during_redis
    # Each accepted message is stored exactly once, and none that was not.
    texts = [m["text"] for m in history if m.get("role") == "user"]
    assert len(record.sent) > 10
    assert texts == [f"message {n}" for n in range(len(record.sent))], texts
