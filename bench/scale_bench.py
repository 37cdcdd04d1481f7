"""Scale-out benchmark: wake-ups across workers and end-to-end throughput, on loopback.

Starts real server processes and measures, in one run:

1. Wake-up latency across workers, worker A and worker B on one PostgreSQL database,
   through LISTEN/NOTIFY and through Redis pub/sub; baseline in the same run: the poll held
   on B itself (no other process involved). Two measures:
   - a bot reply stored by B's dispatcher (the later parts of `slow 1`, which B fetches on
     its pollId chain) → a long-poll held on A answering it, from the reply's `createdAt`;
     only replies stored while the poll was held count;
   - a user message sent through B → a long-poll held on A answering it, from its
     `createdAt` (which precedes the rest of the sending request and its commit) and from
     B's 202 (after the commit). Verified: each poll was held (open before the send,
     answered well before its wait ran out) and answered with exactly the message sent.
2. Throughput, messages/s end to end: a user message sent, forwarded to the emulator (a
   process of its own), the bot's reply stored and delivered to a long-poll; C conversations
   at once, each sending its next message when the last reply arrived. Through 1 worker on
   SQLite, 1 worker on PostgreSQL, 2 workers on PostgreSQL (sends and polls spread over
   them). Verified: every message reached the bot once, in order, and every reply arrived.

Usage: .venv/bin/python bench/scale_bench.py [--wakeups 200] [--conversations 40] [--messages 10]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.liveserver import LiveServer
from tests.scale.cluster import point_bots_at
from tests.servers import POSTGRES_URL, REDIS_URL, create_database, drop_database

BENCH_ENV = {
    "RATELIMIT_ENABLED": "false",
    "KORE_ALLOW_LOOPBACK_UPSTREAM": "true",
    "LOG_LEVEL": "ERROR",
}


def created(message: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(message["createdAt"]).replace("Z", "+00:00")).timestamp()


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextmanager
def servers(
    tmp: Path, workers: int, *, postgres: bool, env: dict[str, str] | None = None
) -> Iterator[tuple[list[LiveServer], LiveServer]]:
    """`workers` relay processes and one emulator process on one fresh database."""
    url = create_database(POSTGRES_URL, "kc_bench") if postgres else None
    db = tmp / f"bench-{secrets.token_hex(4)}.sqlite3"
    common = {**BENCH_ENV, **(env or {})}
    started: list[LiveServer] = []
    try:
        emulator = LiveServer(db, {**common, "KORE_DISPATCHER": "false"}, database_url=url)
        emulator.migrate()
        started.append(emulator.start())
        point_bots_at(emulator, f"{emulator.url}/emulator")
        relays = [
            LiveServer(db.with_name(f"{db.stem}-w{n}.sqlite3"), common, database_url=url)
            for n in range(workers)
        ]
        for relay in relays:
            # On SQLite every process shares the one file (a single host).
            relay.env["DB_PATH"] = str(db)
            started.append(relay.start())
        yield relays, emulator
    finally:
        for server in started:
            server.stop()
        if url:
            drop_database(url)


async def token(http: httpx.AsyncClient, identity: str) -> dict[str, str]:
    answer = await http.post("/api/v1/sts", json={"bot": "demo", "identity": identity})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['jwt']}"}


async def send(http: httpx.AsyncClient, headers: dict[str, str], text: str) -> httpx.Response:
    """One message sent (a fresh clientMessageId), checked accepted."""
    sent = await http.post(
        "/api/v1/messages",
        json={"text": text, "clientMessageId": str(uuid.uuid4())},
        headers=headers,
    )
    assert sent.status_code == 202, sent.text
    return sent


async def long_poll(
    http: httpx.AsyncClient, headers: dict[str, str], cursor: int, wait: int
) -> Any:
    """One long-poll's answer, as JSON."""
    answer = await http.get(
        "/api/v1/messages", params={"after": cursor, "wait": wait}, headers=headers
    )
    return answer.json()


async def wakeups(
    poll_on: str, send_to: str, count: int, wait: int = 20
) -> tuple[list[float], list[float]]:
    """Seconds from each message's createdAt to the held poll on `poll_on` answering it, and
    from the send's answer (the transaction committed) to the same."""
    samples, after_send = [], []
    async with (
        httpx.AsyncClient(base_url=poll_on, timeout=60) as poller,
        httpx.AsyncClient(base_url=send_to, timeout=60) as sender,
    ):
        # A conversation per sample keeps the bot's reply out of the next measurement.
        for n in range(count):
            identity = f"wake-{uuid.uuid4()}"
            headers = await token(poller, identity)
            cursor = (
                await poller.get("/api/v1/messages", params={"wait": 0}, headers=headers)
            ).json()["cursor"]
            opened = time.monotonic()
            poll = asyncio.ensure_future(
                poller.get(
                    "/api/v1/messages", params={"after": cursor, "wait": wait}, headers=headers
                )
            )
            await asyncio.sleep(0.05)
            text = f"wake {n}"
            await send(sender, headers, text)
            answered = time.monotonic()
            answer = await poll
            arrived = time.time()
            after_send.append(max(0.0, time.monotonic() - answered))
            held = time.monotonic() - opened
            messages = answer.json()["messages"]
            # It measured a held poll woken by this very message.
            assert messages and messages[0]["text"] == text, messages
            assert 0.05 <= held < wait / 2, f"the poll was not held and woken ({held:.3f}s)"
            samples.append(arrived - created(messages[0]))
    return samples, after_send


async def reply_wakeups(poll_on: str, send_to: str, count: int, parallel: int = 4) -> list[float]:
    """Seconds from a bot reply's createdAt, stored by the other worker's dispatcher (the
    later parts of `slow 1`, fetched by its pollId chain), to a poll held here answering."""
    samples: list[float] = []

    async def one() -> None:
        async with (
            httpx.AsyncClient(base_url=poll_on, timeout=60) as poller,
            httpx.AsyncClient(base_url=send_to, timeout=60) as sender,
        ):
            headers = await token(poller, f"reply-{uuid.uuid4()}")
            sent = await send(sender, headers, "slow 1")
            cursor, later = sent.json()["cursor"], 0
            while later < 2:  # "Halfway there…" and "Done after 1 s."
                opened = time.time()
                answer = await long_poll(poller, headers, cursor, 10)
                arrived = time.time()
                cursor = answer["cursor"]
                for message in answer["messages"]:
                    if message["role"] != "bot" or message["text"].startswith("Working"):
                        continue
                    later += 1
                    # Only a reply stored while this poll was held measures a wake-up.
                    if created(message) > opened:
                        samples.append(arrived - created(message))

    for _ in range(count // parallel):
        await asyncio.gather(*(one() for _ in range(parallel)))
    assert len(samples) >= count, f"only {len(samples)} of {2 * count} replies found a held poll"
    return samples


async def conversation(
    urls: list[str], messages: int, done: list[float]
) -> tuple[str, list[str], list[str]]:
    """One user: send, wait for the reply, send the next; sends and polls alternate workers."""
    identity = f"through-{uuid.uuid4()}"
    clients = [httpx.AsyncClient(base_url=url, timeout=60) for url in urls]
    try:
        headers = await token(clients[0], identity)
        cursor = 0
        replies: list[str] = []
        words: list[str] = []
        for k in range(messages):
            word = f"m{k}"
            words.append(word)
            client = clients[k % len(clients)]
            await send(client, headers, word)
            while len(replies) <= k:
                poller = clients[(k + 1) % len(clients)]
                answer = await long_poll(poller, headers, cursor, 20)
                cursor = answer["cursor"]
                replies += [m["text"] for m in answer["messages"] if m["role"] == "bot"]
            done.append(time.monotonic())
        return identity, words, replies
    finally:
        for client in clients:
            await client.aclose()


async def throughput(
    relays: list[LiveServer], emulator: LiveServer, conversations: int, messages: int
) -> float:
    urls = [relay.url for relay in relays]
    done: list[float] = []
    started = time.monotonic()
    results = await asyncio.gather(
        *(conversation(urls, messages, done) for _ in range(conversations))
    )
    elapsed = time.monotonic() - started
    async with httpx.AsyncClient(base_url=emulator.url, timeout=60) as http:
        for identity, words, replies in results:
            assert replies == [f"You said: {word}" for word in words], replies
            record = (
                await http.get("/emulator/_control/received", params={"user": identity})
            ).json()
            got = [r["body"]["message"]["val"] for r in sorted(record["requests"], key=seq)]
            assert got == words, f"the bot got {got}, not {words} once each in order"
    return len(done) / elapsed


def seq(request: dict[str, Any]) -> int:
    return int(request["seq"])


def line(name: str, samples: list[float]) -> str:
    p50, p99 = statistics.median(samples) * 1000, pct(samples, 0.99) * 1000
    return f"  {name:<34} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   ({len(samples)} wake-ups)"


async def main(wakeup_count: int, conversations: int, messages: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        redis_env = {
            "NOTIFY_BACKEND": "redis",
            "REDIS_URL": REDIS_URL,
            "NOTIFY_REDIS_CHANNEL": f"kc-bench-{secrets.token_hex(4)}",
        }
        latencies: dict[str, tuple[list[float], list[float]]] = {}
        replies: dict[str, list[float]] = {}
        with servers(tmp, 2, postgres=True) as (relays, _):
            a, b = (relay.url for relay in relays)
            latencies["same worker (baseline)"] = await wakeups(b, b, wakeup_count)
            latencies["across workers, LISTEN/NOTIFY"] = await wakeups(a, b, wakeup_count)
            replies["same worker (baseline)"] = await reply_wakeups(b, b, wakeup_count // 2)
            replies["across workers, LISTEN/NOTIFY"] = await reply_wakeups(a, b, wakeup_count // 2)
        with servers(tmp, 2, postgres=True, env=redis_env) as (relays, _):
            a, b = (relay.url for relay in relays)
            latencies["across workers, Redis pub/sub"] = await wakeups(a, b, wakeup_count)
            replies["across workers, Redis pub/sub"] = await reply_wakeups(a, b, wakeup_count // 2)

        rates: dict[str, float] = {}
        for name, workers, postgres in (
            ("1 worker, SQLite", 1, False),
            ("1 worker, PostgreSQL", 1, True),
            ("2 workers, PostgreSQL", 2, True),
        ):
            with servers(tmp, workers, postgres=postgres) as (relays, emulator):
                rates[name] = await throughput(relays, emulator, conversations, messages)

    print("Wake-up latency, bot reply stored by a dispatcher -> held long-poll answered")
    for name, samples in replies.items():
        print(line(name, samples))
    base = statistics.median(replies["same worker (baseline)"])
    for name, samples in replies.items():
        print(f"  ratio {name} / same worker: x{statistics.median(samples) / base:.2f}")
    print("Wake-up latency, user message sent through a worker -> held long-poll answered")
    for name, (samples, _) in latencies.items():
        print(line(name, samples))
    print("  the same, from the send's 202 (its transaction committed) to the poll's answer")
    for name, (_, after_send) in latencies.items():
        print(line(name, after_send))
    base = statistics.median(latencies["same worker (baseline)"][0])
    for name, (samples, _) in latencies.items():
        print(f"  ratio {name} / same worker: x{statistics.median(samples) / base:.2f}")
    total = conversations * messages
    print(f"Throughput end to end ({conversations} conversations x {messages} messages = {total})")
    sqlite = rates["1 worker, SQLite"]
    for name, rate in rates.items():
        print(f"  {name:<24} {rate:7.1f} messages/s   x{rate / sqlite:.2f} of SQLite")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wakeups", type=int, default=200)
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--messages", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.wakeups, args.conversations, args.messages))
