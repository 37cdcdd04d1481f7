"""Long-poll benchmark (docs/performance.md), each against a baseline measured in the same run.

1. Idle poll cycle: server CPU and database queries per poll whose cursor is already current,
   answered at once (wait=0) and after its wait ran out (wait=1). Baselines: the cheapest
   request through Django's whole stack (a 404), and the event loop's own /healthz.
2. Held polls: N idle long-polls on one worker opened in one burst: memory each (baseline: an
   idle connection), /healthz latency sampled every 50 ms throughout (its own process), how
   long the server stays busy, and the delivery of new messages while the N are held.
   Checked: every poll is held (the server's waiting count and the client's pending answers)
   and answered only when its message comes.
3. Delivery latency from stored to answered, alternating with the same kind of message pushed
   over a WebSocket by Django Channels (in-memory layer) from the same server process.
4. (`--only knowledge`) What the knowledge's time bound costs: server CPU and queries per
   second while `--polls` idle polls are held, at a bound longer than the measurement and at
   the default 5 s.

Usage: .venv/bin/python bench/longpoll_bench.py [--polls 10000] [--cycles 2000]
       [--exchanges 200] [--only idle,held,latency,knowledge] [--out bench/results/longpoll.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    ROOT,
    Connection,
    Response,
    Server,
    bearer,
    bot_pk,
    check,
    command_line,
    created,
    databases,
    mint_tokens,
    raise_fd_limit,
    save,
    settle_cpu,
    summary_ms,
)

HELD_WAIT = 110  # seconds each held poll waits: longer than the whole measurement
# What a query found answers idle polls for LONGPOLL_KNOWLEDGE_SECONDS (5 by default); past it
# a poll queries again. The idle and held measurements are of polls answered from that
# knowledge: it lasts longer than they do.
KNOWLEDGE_ENV = {"LONGPOLL_KNOWLEDGE_SECONDS": "3600"}
HELD_ENV = {"LONGPOLL_MAX_WAIT": "120", **KNOWLEDGE_ENV}


async def store(srv: Server, identity: str, text: str) -> int:
    """A bot message stored in the server, as the relay stores a reply (demo bot)."""
    connection = await Connection.open(srv.port)
    try:
        target = f"/__bench__/store?bot=demo&identity={identity}&text={text}"
        answer = await connection.request("POST", target)
    finally:
        connection.close()
    check(answer.status == 200, f"storing a message failed: {answer.status} {answer.body!r}")
    return int(answer.json()["id"])


async def _cycles(
    connections: list[Connection], targets: list[str], rounds: int
) -> list[tuple[str, Response]]:
    async def run(connection: Connection, target: str) -> list[tuple[str, Response]]:
        return [(target, await connection.request("GET", target)) for _ in range(rounds)]

    answers = await asyncio.gather(*(run(c, t) for c, t in zip(connections, targets, strict=True)))
    return [a for per_connection in answers for a in per_connection]


IDLE_CONNECTIONS = 10  # keep-alive connections asking at once (wait=0 and the baselines)
# The cheapest request Django answers: through every middleware, then no route.
DJANGO_BASELINE = "/api/v1/no-such-route"


async def idle_cycle(
    srv: Server, tokens: dict[str, str], cycles: int, timeouts: int = 3
) -> dict[str, Any]:
    """CPU and queries per idle poll cycle, against a request through Django and /healthz.

    wait=0: `cycles` polls on IDLE_CONNECTIONS connections, each answered at once. wait=1: one
    poll per token held until its wait runs out, `timeouts` times. CPU is the server's, net of
    what it uses doing nothing for as long (timers, the dispatcher's scans), measured just before.
    """
    identities = list(tokens)
    cursors = {i: await store(srv, i, "hello") for i in identities}
    connections = [await Connection.open(srv.port, bearer(tokens[i])) for i in identities]
    current = [f"/api/v1/messages?after={cursors[i]}&wait=0" for i in identities]
    few = min(IDLE_CONNECTIONS, len(identities))
    rounds = max(1, cycles // few)

    async def measure(
        targets: list[str], rounds: int, conns: list[Connection], status: int = 200
    ) -> dict[str, Any]:
        await _cycles(conns, targets, max(1, rounds // 10))  # warm up
        await settle_cpu(srv)
        cpu0, start = srv.cpu(), time.monotonic()
        await asyncio.sleep(1)
        idle_rate = (srv.cpu() - cpu0) / (time.monotonic() - start)
        stats0, cpu0, start = srv.stats(), srv.cpu(), time.monotonic()
        answers = await _cycles(conns, targets, rounds)
        elapsed = time.monotonic() - start
        cpu, stats1 = srv.cpu() - cpu0, srv.stats()
        check(all(a.status == status for _, a in answers), f"{targets[0]}: not a {status}")
        return {
            "requests": len(answers),
            "cpu_ms_each": (cpu - idle_rate * elapsed) / len(answers) * 1000,
            "cpu_ms_each_gross": cpu / len(answers) * 1000,
            "queries_each": (stats1["queries"] - stats0["queries"]) / len(answers),
            "elapsed_s": elapsed,
            "answers": answers,
        }

    at_once = await measure(current[:few], rounds, connections[:few])
    check(at_once["queries_each"] == 0, "idle polls queried: they were not answered from knowledge")
    for target, answer in at_once.pop("answers"):
        body = answer.json()
        check(body["messages"] == [], f"an idle poll found messages: {body}")
        check(f"after={body['cursor']}&" in target, "an idle poll moved its cursor")

    waits = [t.replace("wait=0", "wait=1") for t in current]
    timed_out = await measure(waits, timeouts, connections)
    answers = timed_out.pop("answers")
    check(
        timed_out["elapsed_s"] >= timeouts * 0.95,
        "polls with wait=1 answered before their wait ran out: they were not held",
    )
    check(all(a.json()["messages"] == [] for _, a in answers), "a timed-out poll found messages")

    plain = [await Connection.open(srv.port) for _ in range(few)]
    django = await measure([DJANGO_BASELINE] * few, rounds, plain, status=404)
    django.pop("answers")
    health = await measure(["/healthz"] * few, rounds, plain)
    health.pop("answers")
    for connection in connections + plain:
        connection.close()
    return {"wait0": at_once, "wait1": timed_out, "django": django, "healthz": health}


def sampler(srv: Server, output: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "healthz_sampler.py"), str(srv.port), str(output)]
    )


def samples_between(output: Path, start: float, end: float) -> list[tuple[float, float, int]]:
    rows = []
    for line in output.read_text().splitlines():
        at, latency, status = line.split()
        if start <= float(at) <= end:
            rows.append((float(at), float(latency), int(status)))
    return rows


async def idle_connections(srv: Server, count: int) -> dict[str, float]:
    """Baseline: `count` connections open and idle, no request on them."""
    await settle_cpu(srv)
    rss0 = srv.rss()
    streams = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(count)]
    await asyncio.sleep(2)
    held = srv.connections()
    rss1 = srv.rss()
    for _, writer in streams:
        writer.close()
    check(held >= count, f"only {held} of {count} idle connections stayed open")
    return {"kb_each": (rss1 - rss0) / count / 1024}


async def held_polls(
    srv: Server, tokens: dict[str, str], probes: int, out: Path, baseline: bool = True
) -> dict[str, Any]:
    identities = list(tokens)
    count = len(identities)
    idle_kb = (await idle_connections(srv, count))["kb_each"] if baseline else None
    await settle_cpu(srv)
    rss0, threads0 = srv.rss(), srv.threads()

    health_log = out.with_suffix(".healthz.txt")
    health_log.unlink(missing_ok=True)
    sampling = sampler(srv, health_log)
    await asyncio.sleep(1)

    async def open_poll(identity: str) -> tuple[Connection, asyncio.Task[Response]]:
        connection = await Connection.open(srv.port, bearer(tokens[identity]))
        connection.send("GET", f"/api/v1/messages?after=0&wait={HELD_WAIT}")
        return connection, asyncio.ensure_future(connection.answer())

    burst_start, cpu_start = time.time(), srv.cpu()
    opened = await asyncio.gather(*(open_poll(i) for i in identities))
    sent_s = time.time() - burst_start
    waiting = 0
    while waiting < count and time.time() - burst_start < HELD_WAIT / 2:
        waiting = srv.stats()["waiting"]
        await asyncio.sleep(0.1)
    all_held_s = time.time() - burst_start
    # Quiet: under 10% of a core; the health sampling alone costs the server about 5%.
    busy_after_s = await settle_cpu(srv, quiet=0.1)
    burst_cpu = srv.cpu() - cpu_start
    burst_end = time.time()
    rss1, threads1, connected = srv.rss(), srv.threads(), srv.connections()
    answered_early = [t for _, t in opened if t.done()]
    check(waiting >= count, f"only {waiting} of {count} polls were held by the server")
    check(not answered_early, f"{len(answered_early)} polls answered before any message came")

    latencies = []
    for n in range(probes):
        identity = identities[n * (count // probes)]
        connection, answer = opened[identities.index(identity)]
        await store(srv, identity, f"probe-{n}")
        response = await asyncio.wait_for(answer, 10)
        messages = response.json()["messages"]
        check(
            response.status == 200 and [m["text"] for m in messages] == [f"probe-{n}"],
            f"a held poll answered something else: {response.status} {response.body[:200]!r}",
        )
        latencies.append(response.received - created(messages[0]))
        await asyncio.sleep(0.02)
    probes_end = time.time()
    early_after = sum(1 for _, t in opened if t.done()) - probes
    check(early_after == 0, f"{early_after} held polls answered without a message")
    sampling.terminate()
    sampling.wait()
    for connection, task in opened:
        task.cancel()
        connection.close()

    during_burst = samples_between(health_log, burst_start, burst_end)
    during_probes = samples_between(health_log, burst_end, probes_end)
    check(len(during_burst) >= 3, "too few /healthz samples during the burst")
    return {
        "polls": count,
        "idle_connection_kb": idle_kb,
        "poll_kb": (rss1 - rss0) / count / 1024,
        "threads_before": threads0,
        "threads_held": threads1,
        "connections_held": connected,
        "burst_sent_s": sent_s,
        "all_held_s": all_held_s,
        "busy_after_all_held_s": busy_after_s,
        "burst_cpu_ms_each": burst_cpu / count * 1000,
        "healthz_burst": [
            (at - burst_start, latency, status) for at, latency, status in during_burst
        ],
        "healthz_burst_max_ms": max(latency for _, latency, _ in during_burst) * 1000,
        "healthz_probes_max_ms": max((s[1] for s in during_probes), default=0) * 1000,
        "healthz_failed": sum(1 for *_, status in during_burst + during_probes if status != 200),
        "delivery_while_held": summary_ms(latencies),
    }


KNOWLEDGE_BOUNDS = ("3600", "5")  # seconds: longer than the measurement, and the default
KNOWLEDGE_SECONDS_MEASURED = 20


async def knowledge_cost(srv: Server, tokens: dict[str, str]) -> dict[str, float]:
    """Server CPU and queries per second while one idle poll per token is held, measured
    once the knowledge the first looks found has run out (at the default bound, a held poll
    looks again every LONGPOLL_KNOWLEDGE_SECONDS)."""
    opened = []
    for token in tokens.values():
        connection = await Connection.open(srv.port, bearer(token))
        connection.send("GET", f"/api/v1/messages?after=0&wait={HELD_WAIT}")
        opened.append((connection, asyncio.ensure_future(connection.answer())))
    while srv.stats()["waiting"] < len(tokens):
        await asyncio.sleep(0.1)
    await asyncio.sleep(6)  # past the default bound of the first looks
    stats0, cpu0, start = srv.stats(), srv.cpu(), time.monotonic()
    await asyncio.sleep(KNOWLEDGE_SECONDS_MEASURED)
    stats1, cpu1, elapsed = srv.stats(), srv.cpu(), time.monotonic() - start
    check(not any(answer.done() for _, answer in opened), "a held poll answered with nothing new")
    for connection, answer in opened:
        answer.cancel()
        connection.close()
    return {
        "polls": len(tokens),
        "cpu_share": (cpu1 - cpu0) / elapsed,
        "queries_per_s": (stats1["queries"] - stats0["queries"]) / elapsed,
    }


async def delivery(srv: Server, tokens: dict[str, str], exchanges: int) -> dict[str, Any]:
    """Stored -> answered, long-poll and WebSocket alternating, same server, same message."""
    from websockets.asyncio.client import connect

    pk = bot_pk()
    poller, pushed = list(tokens)
    cursor = await store(srv, poller, "start")
    connection = await Connection.open(srv.port, bearer(tokens[poller]))
    long_poll, websocket = [], []
    async with connect(f"ws://127.0.0.1:{srv.port}/__bench__/ws/{pk}/{pushed}") as ws:
        for n in range(exchanges):
            connection.send("GET", f"/api/v1/messages?after={cursor}&wait=30")
            answer = asyncio.ensure_future(connection.answer())
            while srv.stats()["waiting"] < 1:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.02)
            await store(srv, poller, f"lp-{n}")
            response = await asyncio.wait_for(answer, 10)
            message = response.json()["messages"][-1]
            check(message["text"] == f"lp-{n}", f"the long-poll answered {message}")
            long_poll.append(response.received - created(message))
            cursor = message["id"]

            await asyncio.sleep(0.02)
            await store(srv, pushed, f"ws-{n}")
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            check(frame["text"] == f"ws-{n}", f"the WebSocket pushed {frame}")
            websocket.append(time.time() - created(frame))
    connection.close()
    return {
        "long_poll": summary_ms(long_poll),
        "websocket": summary_ms(websocket),
        "long_poll_samples": long_poll,
        "websocket_samples": websocket,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    limit = raise_fd_limit(2 * args.polls + 1024)
    check(limit > args.polls + 256, f"the open-file limit ({limit}) is too low for the polls")
    only = set(args.only.split(","))
    results: dict[str, Any] = {}
    with databases() as copies:  # migrated once; every server below gets a copy
        if "idle" in only:
            tokens = mint_tokens([f"idle-{n}" for n in range(200)])
            with copies.server("idle", KNOWLEDGE_ENV) as srv:
                results["idle"] = await idle_cycle(srv, tokens, args.cycles)
            report_idle(results["idle"])
        if "latency" in only:
            with copies.server("latency") as srv:
                results["latency"] = await delivery(srv, mint_tokens(["lp", "ws"]), args.exchanges)
            report_latency(results["latency"])
        if "held" in only:
            tokens = mint_tokens([f"hold-{n}" for n in range(args.polls)])
            with copies.server("held", HELD_ENV) as srv:
                results["held"] = await held_polls(
                    srv, tokens, args.probes, copies.directory / "held"
                )
            report_held(results["held"])
        if "knowledge" in only:
            tokens = mint_tokens([f"know-{n}" for n in range(args.polls)])
            results["knowledge"] = {}
            for bound in KNOWLEDGE_BOUNDS:
                env = {**HELD_ENV, "LONGPOLL_KNOWLEDGE_SECONDS": bound}
                with copies.server(f"knowledge-{bound}", env) as srv:
                    results["knowledge"][bound] = await knowledge_cost(srv, tokens)
            long, default = (results["knowledge"][b]["queries_per_s"] for b in KNOWLEDGE_BOUNDS)
            check(long < default / 10, "held polls did not look again when their knowledge ran out")
            report_knowledge(results["knowledge"])
    return results


def report_knowledge(knowledge: dict[str, dict[str, float]]) -> None:
    print("What the knowledge's time bound costs: idle polls held on one worker")
    for bound, r in knowledge.items():
        print(
            f"  bound {bound:>4} s, {r['polls']} polls: {r['cpu_share'] * 100:.1f} % of a core, "
            f"{r['queries_per_s']:.1f} queries/s"
        )


def report_idle(idle: dict[str, Any]) -> None:
    base = idle["django"]["cpu_ms_each"]
    print("Goal 1: idle poll cycle, server CPU and queries each (target <= 0.2 ms, 0 queries)")
    for name, label in (
        ("wait0", "answered at once"),
        ("wait1", "after its 1 s wait"),
        ("healthz", "/healthz"),
        ("django", "a 404 via Django"),
    ):
        r = idle[name]
        print(
            f"  {label:18}: {r['cpu_ms_each']:.3f} ms CPU, {r['queries_each']:.2f} queries "
            f"(x{r['cpu_ms_each'] / base:.2f} the request through Django)"
        )


def report_latency(latency: dict[str, Any]) -> None:
    lp, ws = latency["long_poll"], latency["websocket"]
    print("Goal 3: delivery latency, stored -> answered (targets p50 <= 3, p99 <= 10 ms)")
    print(f"  long-poll : p50 {lp['p50']:.2f} ms  p99 {lp['p99']:.2f} ms  (n={lp['n']})")
    print(f"  WebSocket : p50 {ws['p50']:.2f} ms  p99 {ws['p99']:.2f} ms  (Django Channels)")
    print(f"  ratio long-poll / WebSocket, median: x{lp['p50'] / ws['p50']:.2f} (target <= 1.5)")


def report_held(held: dict[str, Any]) -> None:
    d = held["delivery_while_held"]
    print(f"Goal 2: {held['polls']} idle long-polls held by one worker, opened in one burst")
    print(
        f"  memory: {held['poll_kb']:.1f} KB each (target <= 25), idle connection "
        f"{held['idle_connection_kb']:.1f} KB (x{held['poll_kb'] / held['idle_connection_kb']:.1f})"
    )
    print(
        f"  threads {held['threads_before']} -> {held['threads_held']}, "
        f"{held['connections_held']} connections"
    )
    print(
        f"  burst: sent in {held['burst_sent_s']:.1f} s, all held at {held['all_held_s']:.1f} s, "
        f"server busy {held['busy_after_all_held_s']:.1f} s more, "
        f"{held['burst_cpu_ms_each']:.2f} ms of server CPU per poll"
    )
    print(
        f"  /healthz during the burst: max {held['healthz_burst_max_ms']:.0f} ms "
        f"(target <= 200), while held: max {held['healthz_probes_max_ms']:.0f} ms, "
        f"failed {held['healthz_failed']}"
    )
    print(
        f"  a new message while held: p50 {d['p50']:.1f} ms, p99 {d['p99']:.1f} ms "
        f"(target <= 50, n={d['n']})"
    )


if __name__ == "__main__":
    arguments = command_line(
        __doc__,
        "longpoll.json",
        polls=10_000,
        probes=200,
        cycles=2000,
        exchanges=200,
        only="idle,latency,held",
    )
    found = asyncio.run(main(arguments))
    save(found, arguments.out)
