"""The real PostgreSQL and Redis servers that scale-out tests use (no tests here).

Under CI=true a missing server fails the test; elsewhere it skips with a message saying what
to start. Every database made here has a random name of its own, so parallel runs on one
machine never collide, and is dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

# The servers this machine (and CI) runs; DATABASE_URL / REDIS_URL point elsewhere if set.
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def _missing(what: str) -> None:
    message = f"{what} is not reachable: start it to run this test"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (under CI=true it must run)")
    pytest.skip(message)


def postgres_server_url() -> str:
    """A URL of the PostgreSQL server (its maintenance database); skips or fails without one."""
    url = os.environ.get("DATABASE_URL") or POSTGRES_URL
    if not _reachable(url, 5432):
        _missing(f"PostgreSQL at {urlsplit(url).netloc}")
    return url


def redis_url() -> str:
    url = os.environ.get("REDIS_URL") or REDIS_URL
    if not _reachable(url, 6379):
        _missing(f"Redis at {urlsplit(url).netloc}")
    return url


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(_with_database(url, "postgres"), autocommit=True)


def create_database(server_url: str, prefix: str = "kc_test") -> str:
    """A new, empty database on that server; its URL."""
    name = f"{prefix}_{secrets.token_hex(5)}"
    with _admin(server_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return _with_database(server_url, name)


def drop_database(url: str) -> None:
    """Drop it, ending whatever sessions still use it (killed servers leave none behind)."""
    name = urlsplit(url).path.lstrip("/")
    with _admin(url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def postgres_database(prefix: str = "kc_test") -> Iterator[str]:
    url = create_database(postgres_server_url(), prefix)
    try:
        yield url
    finally:
        drop_database(url)


def session_uses_postgres() -> bool:
    """Whether this test run's own database is PostgreSQL (the second pass of `make test`)."""
    return (os.environ.get("DATABASE_URL") or "").startswith(("postgres://", "postgresql://"))


class RedisServer:
    """A redis-server of a test's own on a free loopback port, which the test may kill and
    start again (on the same port): an outage of the shared cache."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            _missing("redis-server (the binary)")
        self.binary = str(binary)
        self.workdir = workdir
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), *options, "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _reachable(self.url, self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir).start()
    try:
        yield server
    finally:
        server.kill()
