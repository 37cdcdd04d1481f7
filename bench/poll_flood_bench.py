"""One client holding as many long-polls as it can: does everyone else stay answered?

Production mode (DEBUG off, PostgreSQL, `--workers 2`, the default caps): one client opens
FLOOD polls at once with one token from one address, and opens another whenever one is
refused, once its Retry-After has passed, for the whole run (a client retrying at once
measures a connection flood instead, which no cap on polls can stop). Meanwhile
`/healthz`, the chat page, and another user's send and poll are timed. The goal: each
answered within 200 ms. Prints the numbers and writes
them to bench/results/poll_flood.json.

    .venv/bin/python bench/poll_flood_bench.py
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import SERVER_ENV
from tests.liveserver import LiveServer
from tests.servers import postgres_database

FLOOD = 3000
SAMPLES = 60
GOAL = 0.2
RESULTS = Path(__file__).resolve().parent / "results" / "poll_flood.json"


async def hold(port: int, token: str, stop: asyncio.Event, counts: dict[str, int]) -> None:
    """One of the flood's connections: a poll, held if the server holds it, else again
    once the refusal's Retry-After (5 s) has passed."""
    request = (
        "GET /api/v1/messages?after=999999999&wait=45 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    ).encode()
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            counts["connect_failed"] += 1
            await asyncio.sleep(0.05)
            continue
        writer.write(request)
        try:
            status = await asyncio.wait_for(reader.readline(), 15)
        except TimeoutError:
            counts["held"] += 1
            await stop.wait()
            writer.close()
            return
        except OSError:
            status = b""
        counts["refused" if b" 429 " in status or b" 503 " in status else "other"] += 1
        writer.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 5)


def timed(call: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    answer = call()
    assert answer.status_code in (200, 202), (answer.status_code, answer.text[:200])
    return time.perf_counter() - started


async def main() -> dict[str, object]:
    with postgres_database("kc_flood") as url, TemporaryDirectory() as tmp:
        env = {k: v for k, v in SERVER_ENV.items() if k != "LONGPOLL_MAX_PER_ADDRESS"}
        server = LiveServer(
            Path(tmp) / "db.sqlite3", env, database_url=url, options=["--workers", "2"]
        )
        server.migrate()
        server.start()
        try:
            http = httpx.Client(base_url=server.url, timeout=30)
            flooder = http.post("/api/v1/sts", json={"bot": "demo"}).json()["jwt"]
            other = http.post("/api/v1/sts", json={"bot": "demo"}).json()["jwt"]
            auth = {"Authorization": f"Bearer {other}"}
            stop = asyncio.Event()
            counts = {"held": 0, "refused": 0, "other": 0, "connect_failed": 0}
            flood = [
                asyncio.ensure_future(hold(server.port, flooder, stop, counts))
                for _ in range(FLOOD)
            ]
            await asyncio.sleep(5)  # the flood opened and refused
            samples: dict[str, list[float]] = {"healthz": [], "page": [], "send": [], "poll": []}

            def measure() -> None:
                poll = {"after": 0, "wait": 0}
                for _ in range(SAMPLES):
                    body = {"clientMessageId": str(uuid.uuid4()), "text": "hello"}
                    calls = {
                        "healthz": partial(http.get, "/healthz"),
                        "page": partial(http.get, "/?bot=demo"),
                        "send": partial(http.post, "/api/v1/messages", json=body, headers=auth),
                        "poll": partial(http.get, "/api/v1/messages", params=poll, headers=auth),
                    }
                    for name, call in calls.items():
                        samples[name].append(timed(call))

            await asyncio.to_thread(measure)
            stop.set()
            await asyncio.gather(*flood)
        finally:
            server.stop()
    result: dict[str, object] = {"flood": FLOOD, "outcomes": counts}
    for name, values in samples.items():
        values.sort()
        result[name] = {
            "median_ms": round(statistics.median(values) * 1000, 1),
            "p95_ms": round(values[int(len(values) * 0.95) - 1] * 1000, 1),
            "max_ms": round(values[-1] * 1000, 1),
            "within_goal": values[-1] < GOAL,
        }
    return result


if __name__ == "__main__":
    outcome = asyncio.run(main())
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(outcome, indent=2) + "\n")
    print(json.dumps(outcome, indent=2))
