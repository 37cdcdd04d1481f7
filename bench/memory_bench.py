"""Memory against held polls (docs/performance.md): the server's RSS as idle
long-polls are added in steps, each step checked held (the server's waiting count).
Baseline, same run: the same numbers of idle connections that hold no poll.

Usage: .venv/bin/python bench/memory_bench.py [--polls 10000] [--steps 5]
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    Connection,
    Server,
    bearer,
    check,
    command_line,
    databases,
    mint_tokens,
    raise_fd_limit,
    save,
    settle_cpu,
)

# Long holds; idle connections (the baseline) must outlive the server's header deadline
# (granian's longest: a minute, which a sweep stays within).
HELD_ENV = {"LONGPOLL_MAX_WAIT": "300", "HTTP_HEADER_TIMEOUT": "60"}


async def sweep(srv: Server, tokens: list[str], steps: int, polls: bool) -> list[dict[str, Any]]:
    await settle_cpu(srv)
    rss0 = srv.rss()
    rows = [{"held": 0, "rss_mb": rss0 / 2**20}]
    opened: list[Connection | asyncio.StreamWriter] = []
    size = len(tokens) // steps
    for step in range(steps):
        for token in tokens[step * size : (step + 1) * size]:
            if polls:
                connection = await Connection.open(srv.port, bearer(token))
                connection.send("GET", "/api/v1/messages?after=0&wait=290")
                opened.append(connection)
            else:
                _, writer = await asyncio.open_connection("127.0.0.1", srv.port)
                opened.append(writer)
        deadline = time.monotonic() + 60
        while polls and srv.stats()["waiting"] < len(opened) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await settle_cpu(srv)
        if polls:
            check(srv.stats()["waiting"] >= len(opened), "not every poll is held")
        check(srv.connections() >= len(opened), "connections were dropped")
        rows.append({"held": len(opened), "rss_mb": srv.rss() / 2**20})
    for item in opened:
        item.close()
    return rows


async def main(count: int, steps: int) -> dict[str, Any]:
    raise_fd_limit(2 * count + 1024)
    with databases() as copies:
        tokens = list(mint_tokens([f"mem-{n}" for n in range(count)]).values())
        found = {}
        for name, polls in (("connections", False), ("polls", True)):
            with copies.server(name, HELD_ENV) as srv:
                found[name] = await sweep(srv, tokens, steps, polls)
    return found


def report(found: dict[str, Any]) -> None:
    print("Memory against held polls (server RSS, MB)")
    for poll, idle in zip(found["polls"], found["connections"], strict=True):
        print(
            f"  {poll['held']:6}: polls {poll['rss_mb']:7.1f}   "
            f"idle connections {idle['rss_mb']:7.1f}"
        )


if __name__ == "__main__":
    arguments = command_line(__doc__, "memory.json", polls=10_000, steps=5)
    result = asyncio.run(main(arguments.polls, arguments.steps))
    save(result, arguments.out)
    report(result)
