"""Long-poll benchmark: delivery latency and the cost of idle polls, on loopback.

Starts the production server (uvicorn, one process, its own SQLite file) and measures:

1. Delivery latency: the time from the bot's reply being stored (its `createdAt`) to a held
   long-poll handing it to the client, over N exchanges with the demo bot. Baseline, in the
   same run: a client that polls every 1000 ms, as Kore's Web SDK does in webhook mode.
2. Idle polls: the server's memory growth and thread count while it holds M long-polls.
   Baseline, in the same run: M idle keep-alive connections that hold no poll, so what is
   left is what a poll itself costs.

Usage: .venv/bin/python bench/longpoll_bench.py [--exchanges 100] [--polls 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.liveserver import LiveServer


def created(message: dict[str, object]) -> float:
    return datetime.fromisoformat(str(message["createdAt"]).replace("Z", "+00:00")).timestamp()


async def token(http: httpx.AsyncClient) -> str:
    answer = await http.post("/api/v1/sts", json={"bot": "demo"})
    return str(answer.json()["jwt"])


async def latency(http: httpx.AsyncClient, exchanges: int, *, fixed_polling: bool) -> list[float]:
    """Seconds from each reply's `createdAt` to the client holding it.

    Long-poll: one held GET per reply. Fixed polling (Kore's Web SDK): a GET every 1000 ms
    that answers at once, its timer running at a random phase to the sends.
    """
    headers = {"Authorization": f"Bearer {await token(http)}"}
    samples = []
    for n in range(exchanges):
        sent = await http.post(
            "/api/v1/messages",
            json={"text": f"ping {n}", "clientMessageId": str(uuid.uuid4())},
            headers=headers,
        )
        cursor = sent.json()["cursor"]
        if fixed_polling:
            await asyncio.sleep(random.random())
        while True:
            params = {"after": cursor, "wait": 0 if fixed_polling else 10}
            answer = (await http.get("/api/v1/messages", params=params, headers=headers)).json()
            arrived = time.time()
            cursor = answer["cursor"]
            replies = [m for m in answer["messages"] if m["role"] == "bot"]
            if replies:
                samples.append(arrived - created(replies[0]))
                break
            if fixed_polling:
                await asyncio.sleep(1.0)
    return samples


def server_usage(process: psutil.Process) -> tuple[int, int]:
    return process.memory_info().rss, process.num_threads()


async def settle() -> None:
    await asyncio.sleep(3)


async def idle_cost(url: str, process: psutil.Process, polls: int) -> dict[str, float]:
    limits = httpx.Limits(max_connections=polls + 10, max_keepalive_connections=polls + 10)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        headers = {"Authorization": f"Bearer {await token(http)}"}
        for _ in range(20):  # warm up code paths and the query thread pool
            await http.get("/api/v1/messages", params={"wait": 0}, headers=headers)
        await settle()
        rss0, threads0 = server_usage(process)

        # Baseline: idle keep-alive connections, no poll held.
        streams = []
        for _ in range(polls):
            reader, writer = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
            streams.append((reader, writer))
        await settle()
        rss1, threads1 = server_usage(process)
        for _, writer in streams:
            writer.close()
        await settle()

        rss2, threads2 = server_usage(process)
        held = [
            asyncio.ensure_future(
                http.get("/api/v1/messages", params={"wait": 40}, headers=headers)
            )
            for _ in range(polls)
        ]
        await asyncio.sleep(8)
        rss3, threads3 = server_usage(process)
        # Wake them all with one message, and check every poll answered.
        await http.post(
            "/api/v1/messages",
            json={"text": "wake", "clientMessageId": str(uuid.uuid4())},
            headers=headers,
        )
        answers = await asyncio.gather(*held)
        assert all(a.status_code == 200 and a.json()["messages"] for a in answers)
    return {
        "rss_start_mb": rss0 / 2**20,
        "threads_start": threads0,
        "idle_connection_kb": (rss1 - rss0) / polls / 1024,
        "threads_with_idle_connections": threads1,
        "poll_kb": (rss3 - rss2) / polls / 1024,
        "threads_with_polls": threads3,
        "threads_after_connections_closed": threads2,
    }


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(exchanges: int, polls: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * polls + 256)), hard))
    with tempfile.TemporaryDirectory() as tmp:
        # Rate limits off: one benchmark identity sends far more than a person would.
        server = LiveServer(Path(tmp) / "bench.sqlite3", {"RATELIMIT_ENABLED": "false"})
        server.migrate()
        server.start()
        assert server.process is not None
        process = psutil.Process(server.process.pid)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
                fast = await latency(http, exchanges, fixed_polling=False)
                slow = await latency(http, min(exchanges, 30), fixed_polling=True)
            idle = await idle_cost(server.url, process, polls)
        finally:
            server.stop()

    report(fast, slow, idle, polls)


def report(fast: list[float], slow: list[float], idle: dict[str, float], polls: int) -> None:
    fast_ms, slow_ms = statistics.median(fast) * 1000, statistics.median(slow) * 1000
    poll_kb, idle_kb = idle["poll_kb"], idle["idle_connection_kb"]
    print(f"Delivery latency, stored -> answered ({len(fast)} exchanges, loopback)")
    print(
        f"  long-poll:             median {fast_ms:7.2f} ms   p99 {pct(fast, 0.99) * 1000:7.2f} ms"
    )
    print(
        f"  1000 ms polling (SDK): median {slow_ms:7.2f} ms   p99 {pct(slow, 0.99) * 1000:7.2f} ms"
    )
    print(f"  ratio (baseline / long-poll): median x{slow_ms / fast_ms:.0f}")
    print(f"Idle long-polls held by one server process ({polls})")
    print(
        f"  server at start:            {idle['rss_start_mb']:.1f} MB, "
        f"{idle['threads_start']:.0f} threads"
    )
    print(
        f"  idle connection (baseline): {idle_kb:.1f} KB each, "
        f"{idle['threads_with_idle_connections']:.0f} threads"
    )
    print(
        f"  held long-poll:             {poll_kb:.1f} KB each, "
        f"{idle['threads_with_polls']:.0f} threads"
    )
    print(f"  ratio (poll / idle connection): x{poll_kb / max(idle_kb, 0.01):.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=100)
    parser.add_argument("--polls", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(main(args.exchanges, args.polls))
