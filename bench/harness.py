"""What every benchmark shares: servers, a lean HTTP/1.1 client, tokens, statistics.

The client is raw asyncio streams, not httpx: ten thousand held polls from an httpx client
cost the (shared, 2-core) machine more CPU than the server under test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.liveserver import LiveServer  # noqa: E402

# The product's server (its granian options: backlog, open-file limit, slow-client deadlines)
# with the benchmark's routes added (bench/server.py).
BENCH_SERVE = "bench.serve"
PRODUCT_SERVE = "kore_chat.serve"
# Production-like: DEBUG off (Django then keeps no query log), rate limits off (one
# benchmark identity sends far more than a person would), loopback upstreams and the
# emulator's demo bots allowed.
SERVER_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "bench-only-secret-key-0123456789-0123456789-0123456789",
    "FIELD_ENCRYPTION_KEY": "c2VjcmV0LWtleS1mb3ItYmVuY2htYXJrcy1vbmx5ISE=",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "KORE_ALLOW_LOOPBACK_UPSTREAM": "true",
    "KORE_EMULATOR": "true",  # the demo bots; measured paths never reach it
    "RATELIMIT_ENABLED": "false",
    # Thousands of widgets, all from loopback: the per-address cap off.
    "LONGPOLL_MAX_PER_ADDRESS": "0",
    "LOG_LEVEL": "ERROR",
}


class BenchFailed(AssertionError):
    """A benchmark did not measure what it says it measures."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BenchFailed(message)


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file limit (children, the servers, inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(wanted, soft)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def migrate(db_path: Path) -> None:
    LiveServer(db_path, SERVER_ENV, database_url="").migrate()


def setup_django(db_path: Path, env: Mapping[str, str] | None = None) -> None:
    """Django in this process, on the server's database: to mint tokens and read bots."""
    os.environ.update({**SERVER_ENV, **(env or {}), "DB_PATH": str(db_path)})
    os.environ["DJANGO_SETTINGS_MODULE"] = "kore_chat.settings"
    # Only setup reads: a few queries from the event loop, before any measurement.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    import django

    django.setup()


class Server:
    """The product's server (granian) in its own process, with its own database file."""

    def __init__(
        self,
        db_path: Path,
        env: Mapping[str, str] | None = None,
        *,
        serve: str = BENCH_SERVE,
        workers: int = 1,
        migrate: bool = True,
    ) -> None:
        options = ["--workers", str(workers)] if workers > 1 else []
        # The database is the one named here: SQLite at db_path unless env has DATABASE_URL
        # (LiveServer would otherwise make a PostgreSQL database of its own whenever this
        # process has DATABASE_URL, as the tests' PostgreSQL pass wants).
        database_url = (env or {}).get("DATABASE_URL", "")
        self.live = LiveServer(
            db_path,
            {**SERVER_ENV, **(env or {})},
            serve=serve,
            options=options,
            database_url=database_url,
        )
        if migrate:
            self.live.migrate()
        self.live.start()
        assert self.live.process is not None
        self.process = psutil.Process(self.live.process.pid)
        self.url = self.live.url
        self.port = self.live.port

    def processes(self) -> list[psutil.Process]:
        return [self.process, *self.process.children(recursive=True)]

    def cpu(self) -> float:
        """Seconds of CPU (user + system) the server's processes used so far."""
        return sum(sum(p.cpu_times()[:2]) for p in self.processes())

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in self.processes())

    def threads(self) -> int:
        return sum(p.num_threads() for p in self.processes())

    def connections(self) -> int:
        """Established TCP connections the server holds on its port."""
        return sum(
            1
            for p in self.processes()
            for c in p.net_connections("tcp")
            if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == self.port
        )

    def stats(self) -> dict[str, int]:
        answer = httpx.get(f"{self.url}/__bench__/stats", timeout=30)
        answer.raise_for_status()
        return dict(answer.json())

    def log_tail(self, size: int = 3000) -> str:
        return self.live.log_path.read_text(errors="replace")[-size:]

    def stop(self) -> None:
        # Held polls make a graceful shutdown wait for them: a benchmark is done with them.
        # Workers first: killed, the master could not take them down with it.
        for child in self.process.children(recursive=True):
            child.kill()
        self.live.stop(kill=True)


@contextmanager
def server(db_path: Path, env: Mapping[str, str] | None = None, **kwargs: Any) -> Iterator[Server]:
    running = Server(db_path, env, **kwargs)
    try:
        yield running
    finally:
        running.stop()


def copy_database(source: Path, target: Path) -> None:
    """A second server's database, identical to the first's (same bots, same secrets)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


class Databases:
    """A template database migrated and seeded once in `directory`, Django set up on it in
    this process (to mint tokens), and fresh copies of it, one a server."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.template = directory / "template.sqlite3"
        migrate(self.template)
        setup_django(self.template)

    def fresh(self, name: str) -> Path:
        db = self.directory / f"{name}.sqlite3"
        copy_database(self.template, db)
        return db

    def server(
        self, name: str, env: Mapping[str, str] | None = None
    ) -> AbstractContextManager[Server]:
        """A server on a fresh copy named `name`."""
        return server(self.fresh(name), env)


@contextmanager
def databases() -> Iterator[Databases]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Databases(Path(tmp))


def command_line(doc: str | None, out: str, **options: int | str) -> argparse.Namespace:
    """A benchmark's options: its docstring's first line, `--name` for each of `options`
    (the default given, of its type), then `--out`, where its results go (bench/results/)."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    for name, default in options.items():
        parser.add_argument(f"--{name}", type=type(default), default=default)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / out))
    return parser.parse_args()


def save(found: Any, out: str | Path) -> None:
    """A benchmark's results, as JSON."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(found, indent=1))


# A lean HTTP/1.1 client: one connection, keep-alive, Content-Length bodies only.


@dataclass
class Response:
    status: int
    body: bytes
    received: float  # time.time() when the whole answer was read

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Connection:
    port: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def open(cls, port: int, headers: dict[str, str] | None = None) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(port, reader, writer, headers or {})

    def send(self, method: str, target: str, body: Any = None) -> None:
        lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        raw = b""
        if body is not None:
            raw = json.dumps(body).encode()
            lines += ["Content-Type: application/json", f"Content-Length: {len(raw)}"]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + raw)

    async def answer(self) -> Response:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length)
        return Response(status, body, time.time())

    async def request(self, method: str, target: str, body: Any = None) -> Response:
        """One request; sent again on a fresh connection if the server had closed this one
        (its keep-alive timeout) before answering anything. Only idempotent requests here:
        polls, and sends carrying a clientMessageId."""
        self.send(method, target, body)
        try:
            return await self.answer()
        except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
            if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                raise
        self.close()
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.send(method, target, body)
        return await self.answer()

    def close(self) -> None:
        self.writer.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def mint_tokens(identities: list[str], slug: str = "demo") -> dict[str, str]:
    """Tokens as the STS issues them, minted here (setup_django first): 10,000 STS calls
    would only measure the STS."""
    from webclient import sts
    from webclient.models import Bot

    bot = Bot.objects.get(slug=slug)
    return {
        identity: sts.token_issue(
            bot=bot, identity=identity, anonymous=False, proof=sts.Proof.BROWSER
        ).jwt
        for identity in identities
    }


def bot_pk(slug: str = "demo") -> int:
    from webclient.models import Bot

    return int(Bot.objects.get(slug=slug).pk)


def created(message: Mapping[str, Any]) -> float:
    return datetime.fromisoformat(str(message["createdAt"]).replace("Z", "+00:00")).timestamp()


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary_ms(samples: list[float]) -> dict[str, float]:
    """p50, p90, p99 and max of samples in seconds, in milliseconds."""
    return {
        "n": len(samples),
        "p50": pct(samples, 0.5) * 1000,
        "p90": pct(samples, 0.9) * 1000,
        "p99": pct(samples, 0.99) * 1000,
        "max": max(samples) * 1000,
    }


async def settle_cpu(srv: Server, quiet: float = 0.05, timeout: float = 60) -> float:
    """Wait until the server uses under `quiet` of a core over 200 ms; seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        before = srv.cpu()
        await asyncio.sleep(0.2)
        if srv.cpu() - before < quiet * 0.2:
            return time.monotonic() - start
    return time.monotonic() - start
