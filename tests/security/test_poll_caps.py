"""Held long-polls are capped, so that one client cannot take every connection of a worker.

One token opened 22,000 polls and the server ran out of file descriptors: the health check
and the chat page went unanswered until the polls ended. Here real servers (tests/liveserver.py)
hold real polls on real sockets: per identity, per client address (the client behind a
trusted proxy), and a reserve of descriptors for everything that is not a long-poll.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from tests.client import ChatUser
from tests.liveserver import LiveServer
from tests.waiting import wait_until

METRICS = "metrics-token-for-the-poll-caps-tests"
COMMON = {
    "RATELIMIT_ENABLED": "false",
    "TRUSTED_PROXIES": "127.0.0.1",
    "METRICS_TOKEN": METRICS,
    "LONGPOLL_MAX_WAIT": "60",
}


def started(tmp_path_factory: pytest.TempPathFactory, name: str, **kwargs: Any) -> LiveServer:
    env = {**COMMON, **kwargs.pop("env", {})}
    server = LiveServer(tmp_path_factory.mktemp(name) / "db.sqlite3", env, **kwargs)
    server.migrate()
    return server.start()


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = started(
        tmp_path_factory,
        "caps",
        env={"LONGPOLL_MAX_PER_IDENTITY": "3", "LONGPOLL_MAX_PER_ADDRESS": "5"},
    )
    yield server
    server.stop()


def held_polls(server: LiveServer) -> float:
    answer = httpx.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS}"}, timeout=10
    )
    answer.raise_for_status()
    for line in answer.text.splitlines():
        if line.startswith("kore_chat_longpolls_held "):
            return float(line.split()[1])
    raise AssertionError("no kore_chat_longpolls_held in /metrics")


def open_poll(server: LiveServer, token: str, address: str | None = None) -> socket.socket:
    """A poll that waits 60 s, sent on a connection of its own and left to wait."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    forwarded = f"X-Forwarded-For: {address}\r\n" if address else ""
    sock.sendall(
        (
            f"GET /api/v1/messages?after=0&wait=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n{forwarded}\r\n"
        ).encode()
    )
    return sock


def answer_of(sock: socket.socket) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Status, headers (lower-case names) and JSON body of the answer on `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before an answer: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines[1:])
    }
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "closed in the middle of the body"
        body += chunk
    return int(lines[0].split()[1]), headers, json.loads(body)


def token_for(server: LiveServer, identity: str) -> str:
    answer = httpx.post(
        f"{server.url}/api/v1/sts", json={"bot": "demo", "identity": identity}, timeout=10
    )
    answer.raise_for_status()
    return str(answer.json()["jwt"])


def assert_refused(sock: socket.socket, status: int, code: str) -> None:
    got, headers, body = answer_of(sock)
    assert (got, body["error"]["code"]) == (status, code), body
    assert int(headers["retry-after"]) > 0
    assert headers["connection"] == "close"
    assert sock.recv(1) == b""  # closed: the refusal freed its descriptor


def test_one_identity_holds_only_so_many_polls_and_the_next_is_refused_with_429(
    capped: LiveServer,
) -> None:
    token = token_for(capped, "many-tabs")
    with ExitStack() as stack:
        base = held_polls(capped)
        polls = [stack.enter_context(open_poll(capped, token, "198.51.100.1")) for _ in range(3)]
        wait_until(lambda: held_polls(capped) == base + 3)
        # From another address too: the identity's count.
        assert_refused(
            stack.enter_context(open_poll(capped, token, "198.51.100.2")), 429, "too_many_polls"
        )
        # Another user is not affected.
        other = ChatUser(capped.url, identity="someone-else")
        assert other.send(text="hello").status_code == 202
        assert other.poll(after=0, wait=0)["messages"]
        # Once a tab's poll ends, another may wait.
        polls[0].close()
        wait_until(lambda: held_polls(capped) == base + 2)
        stack.enter_context(open_poll(capped, token, "198.51.100.1"))
        wait_until(lambda: held_polls(capped) == base + 3)


def test_one_address_holds_only_so_many_polls_whatever_the_identities(capped: LiveServer) -> None:
    tokens = [token_for(capped, f"neighbour-{n}") for n in range(7)]
    with ExitStack() as stack:
        base = held_polls(capped)
        for token in tokens[:5]:
            stack.enter_context(open_poll(capped, token, "203.0.113.7"))
        wait_until(lambda: held_polls(capped) == base + 5)
        assert_refused(
            stack.enter_context(open_poll(capped, tokens[5], "203.0.113.7")), 429, "too_many_polls"
        )
        # The real client behind the trusted proxy is what counts: another one is held.
        stack.enter_context(open_poll(capped, tokens[6], "203.0.113.8"))
        wait_until(lambda: held_polls(capped) == base + 6)


def test_polls_stop_short_of_the_open_file_limit_and_the_rest_is_still_served(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # 256 open files, 128 of them kept for what is not a long-poll: 128 polls at most.
    server = started(
        tmp_path_factory, "reserve", open_files=256, env={"LONGPOLL_FD_RESERVE": "128"}
    )
    try:
        tokens = [token_for(server, f"crowd-{n}") for n in range(140)]
        with ExitStack() as stack:
            polls = [
                stack.enter_context(open_poll(server, token, f"10.9.{n // 250}.{n % 250 + 1}"))
                for n, token in enumerate(tokens)
            ]
            wait_until(lambda: held_polls(server) == 128)
            refused = []
            for sock in polls:
                sock.settimeout(0.2)
                try:
                    refused.append(answer_of(sock))
                except TimeoutError:
                    continue  # held
            assert len(refused) == 12
            for status, headers, body in refused:
                assert (status, body["error"]["code"]) == (503, "server_busy")
                assert int(headers["retry-after"]) > 0
            # Everything else is still answered.
            assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
            assert httpx.get(f"{server.url}/?bot=demo", timeout=10).status_code == 200
            user = ChatUser(server.url, identity="latecomer")
            assert user.send(text="hello").status_code == 202
            late = user.http.get("/api/v1/messages", params={"after": 0, "wait": 5})
            assert late.status_code == 503
            assert late.json()["error"]["code"] == "server_busy"
    finally:
        server.stop()
