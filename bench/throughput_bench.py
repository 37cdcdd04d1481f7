"""End-to-end throughput (docs/performance.md): send, forward to the emulator, store the reply,
deliver it, for 1 to 200 concurrent conversations, with loss and duplicates checked.

The emulator runs as a separate server process (the product's own emulator app, on its own
database copy with the same demo bots); the relay's demo bot points at it. Each
conversation sends its messages one after the other, each time waiting on its long-poll for
the bot's echo. Checked afterwards, per conversation: every message stored once, forwarded
once (the emulator's record), answered once. Baseline, same run: the same message sent
straight to the emulator's webhook, one at a time; the relay's overhead is the difference of
the medians at one conversation.

With `--relays N` (PostgreSQL), the production layout: the web workers run no dispatcher
(KORE_DISPATCHER=false) and N `manage.py relay` processes forward; their CPU counts as the
relay's, and they must still be running at the end (the web workers cannot forward, so every
answer came through them).

Usage: .venv/bin/python bench/throughput_bench.py [--conversations 1,10,50,200]
       [--messages 5] [--workers 1] [--database-url postgres://...] [--relays 0]
       [--label sqlite-1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import psutil

from bench.harness import (
    PRODUCT_SERVE,
    ROOT,
    Connection,
    Server,
    bearer,
    check,
    copy_database,
    migrate,
    mint_tokens,
    raise_fd_limit,
    save,
    setup_django,
    summary_ms,
)

EMULATOR_RECORD = 1000  # webclient/emulator/state.py's MAX_LOG_ENTRIES
EMULATOR_ENV = {"DEBUG": "true", "KORE_DISPATCHER": "false"}  # its control API is DEBUG-only


async def conversation(
    port: int, token: str, label: str, count: int
) -> tuple[list[float], set[int]]:
    """Round trips (send -> the bot's echo delivered) of `count` messages, in order, and the
    numbers of those the relay reported failed (a visible error entry, e.g. the overloaded
    emulator not answering in time): failed is not lost."""
    sender = await Connection.open(port, bearer(token))
    poller = await Connection.open(port, bearer(token))
    trips, failed = [], set()
    try:
        for n in range(count):
            text = f"ping {label}-{n}"
            start = time.time()
            sent = await sender.request(
                "POST", "/api/v1/messages", {"text": text, "clientMessageId": str(uuid.uuid4())}
            )
            check(sent.status == 202, f"a send failed: {sent.status} {sent.body[:200]!r}")
            cursor = message_id = sent.json()["cursor"]
            while True:
                answer = await poller.request("GET", f"/api/v1/messages?after={cursor}&wait=30")
                check(answer.status == 200, f"a poll failed: {answer.status}")
                body = answer.json()
                cursor = body["cursor"]
                if any(m["text"] == f"You said: {text}" for m in body["messages"]):
                    trips.append(answer.received - start)
                    break
                if any(failure_of(m, message_id) for m in body["messages"]):
                    failed.add(n)
                    break
                check(bool(body["messages"]) or body["pending"], f"no reply to {text!r}")
    finally:
        sender.close()
        poller.close()
    return trips, failed


def failure_of(message: dict[str, Any], message_id: int) -> bool:
    data = message.get("data") or {}
    return (
        message["role"] == "system"
        and data.get("refersTo") == message_id
        and data.get("status") == "failed"
    )


def audit(
    relay: str, emulator: str, token: str, identity: str, label: str, count: int, failed: set[int]
) -> None:
    """Every message stored once, forwarded at most once, answered once unless failed."""
    history = httpx.get(
        f"{relay}/api/v1/messages", params={"after": 0, "wait": 0}, headers=bearer(token)
    ).json()["messages"]
    texts = [m["text"] for m in history]
    for n in range(count):
        check(
            texts.count(f"ping {label}-{n}") == 1,
            f"{label}-{n} stored {texts.count(f'ping {label}-{n}')} times",
        )
        replies = texts.count(f"You said: ping {label}-{n}")
        check(replies == (0 if n in failed else 1), f"{label}-{n} answered {replies} times")
    record = httpx.get(f"{emulator}/emulator/_control/received", params={"user": identity}).json()
    forwarded = [body["message"]["val"] for body in record["received"]]
    answered = {f"ping {label}-{n}" for n in range(count) if n not in failed}
    check(
        len(forwarded) == len(set(forwarded)) and answered <= set(forwarded),
        f"{label}: the emulator got {forwarded}",
    )


async def direct(emulator: str, token: str, identity: str, bot_id: str, count: int) -> list[float]:
    """The baseline: the same message straight to the emulator's webhook."""
    trips = []
    async with httpx.AsyncClient(timeout=30) as http:
        for n in range(count):
            body = {
                "session": {"new": n == 0},
                "from": {"id": identity, "userInfo": {}},
                "to": {"id": bot_id},
                "preferredChannelForResponse": "rtm",
                "message": {"type": "text", "val": f"ping direct-{n}"},
            }
            start = time.time()
            answer = await http.post(
                f"{emulator}/emulator/chatbot/v2/webhook/{bot_id}",
                json=body,
                headers={"Authorization": f"bearer {token}"},
            )
            trips.append(time.time() - start)
            check(answer.status_code == 200, f"direct call failed: {answer.status_code}")
            check(f"You said: ping direct-{n}" in answer.text, "the emulator did not echo")
    return trips


class Relays:
    """`manage.py relay` processes beside a web server, with its environment."""

    def __init__(self, server: Server, count: int) -> None:
        env = {**server.live.env, "KORE_DISPATCHER": "false"}
        self.popens = [
            subprocess.Popen(
                [sys.executable, "manage.py", "relay"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(count)
        ]
        self.processes = [psutil.Process(p.pid) for p in self.popens]

    def cpu(self) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in self.processes)

    def check_running(self) -> None:
        check(all(p.poll() is None for p in self.popens), "a relay process exited")

    def stop(self) -> None:
        for popen in self.popens:
            popen.terminate()
            popen.wait(timeout=30)


async def level(
    relay: Server, emulator: Server, conversations: int, count: int, relays: Relays | None = None
) -> dict[str, Any]:
    labels = [f"c{conversations}x{n}" for n in range(conversations)]
    tokens = mint_tokens(labels)
    # The emulator's record keeps its last EMULATOR_RECORD requests: one level at a time.
    check(conversations * count <= EMULATOR_RECORD, "too many messages for the emulator's record")
    httpx.post(f"{emulator.url}/emulator/_control/reset").raise_for_status()

    def relay_cpu_now() -> float:
        return relay.cpu() + (relays.cpu() if relays else 0.0)

    cpu = relay_cpu_now(), emulator.cpu()
    start = time.monotonic()
    outcomes = await asyncio.gather(
        *(conversation(relay.port, tokens[label], label, count) for label in labels)
    )
    elapsed = time.monotonic() - start
    relay_cpu, emulator_cpu = relay_cpu_now() - cpu[0], emulator.cpu() - cpu[1]
    if relays:
        relays.check_running()
    for label, (_, failed) in zip(labels, outcomes, strict=True):
        audit(relay.url, emulator.url, tokens[label], label, label, count, failed)
    samples = [t for trips, _ in outcomes for t in trips]
    return {
        "conversations": conversations,
        "messages": len(samples),
        "failed": sum(len(failed) for _, failed in outcomes),
        "seconds": elapsed,
        "per_second": len(samples) / elapsed,
        "relay_cpu_ms_each": relay_cpu / len(samples) * 1000,
        "emulator_cpu_ms_each": emulator_cpu / len(samples) * 1000,
        "round_trip": summary_ms(samples),
        "samples": samples,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    levels = [int(n) for n in args.conversations.split(",")]
    raise_fd_limit(4 * max(levels) + 1024)
    relay_env = {"DATABASE_URL": args.database_url} if args.database_url else {}
    with tempfile.TemporaryDirectory() as tmp:
        template, emulator_db = Path(tmp) / "relay.sqlite3", Path(tmp) / "emulator.sqlite3"
        migrate(template)
        copy_database(template, emulator_db)
        emulator = Server(emulator_db, EMULATOR_ENV, serve=PRODUCT_SERVE)
        try:
            setup_django(template, relay_env)
            if args.database_url:
                from django.core.management import call_command

                call_command("migrate", interactive=False, verbosity=0)
                call_command("flush", interactive=False, verbosity=0)
                call_command("seed_demo", verbosity=0)
                _copy_demo_bot(template)
            from webclient.models import Bot

            bot = Bot.objects.get(slug="demo")
            bot.upstream_url = f"{emulator.url}/emulator"
            bot.save()
            with_env = {**relay_env, "KORE_ALLOW_LOOPBACK_UPSTREAM": "true"}
            if args.relays:
                check(bool(args.database_url), "--relays needs --database-url (PostgreSQL)")
                with_env["KORE_DISPATCHER"] = "false"
            relay = Server(template, with_env, workers=args.workers, migrate=False)
            relays = Relays(relay, args.relays) if args.relays else None
            try:
                tokens = mint_tokens(["direct"])
                await direct(emulator.url, tokens["direct"], "direct", bot.bot_id, 10)  # warm up
                baseline = await direct(emulator.url, tokens["direct"], "direct", bot.bot_id, 100)
                results = [await level(relay, emulator, 1, args.single, relays)]
                for conversations in levels:
                    if conversations > 1:
                        results.append(
                            await level(relay, emulator, conversations, args.messages, relays)
                        )
            except Exception:
                print(f"relay server log:\n{relay.log_tail(20000)}", file=sys.stderr)
                raise
            finally:
                if relays:
                    relays.stop()
                relay.stop()
        finally:
            emulator.stop()
    single = results[0]["round_trip"]["p50"]
    return {
        "label": args.label,
        "workers": args.workers,
        "relays": args.relays,
        "database": "postgresql" if args.database_url else "sqlite",
        "direct": summary_ms(baseline),
        "overhead_p50_ms": single - summary_ms(baseline)["p50"],
        "levels": results,
    }


def _copy_demo_bot(sqlite_path: Path) -> None:
    """PostgreSQL got fresh random demo secrets: give it the SQLite copy's, which the
    emulator's database shares."""
    import sqlite3

    from webclient.fields import decrypt
    from webclient.models import Bot

    with sqlite3.connect(sqlite_path) as db:
        rows = db.execute("SELECT slug, bot_id, client_id, client_secret FROM webclient_bot")
        for slug, bot_id, client_id, secret in rows:
            Bot.objects.filter(slug=slug).update(
                bot_id=bot_id, client_id=client_id, client_secret=decrypt(secret)
            )


def report(found: dict[str, Any]) -> None:
    direct_p50 = found["direct"]["p50"]
    relays = f", {found['relays']} relay process(es)" if found.get("relays") else ""
    print(
        f"Goal 4: end-to-end throughput, {found['database']}, {found['workers']} worker(s)" + relays
    )
    print(f"  emulator called directly: p50 {direct_p50:.1f} ms (baseline)")
    for row in found["levels"]:
        trip = row["round_trip"]
        print(
            f"  {row['conversations']:4} conversations: {row['per_second']:7.1f} messages/s, "
            f"round trip p50 {trip['p50']:.1f} ms p99 {trip['p99']:.1f} ms, CPU each: relay "
            f"{row['relay_cpu_ms_each']:.1f} ms, emulator {row['emulator_cpu_ms_each']:.1f} ms "
            f"({row['messages']} answered, {row['failed']} failed visibly, none lost or repeated)"
        )
    print(
        f"  relay overhead at one conversation, p50: {found['overhead_p50_ms']:.1f} ms "
        "(target <= 3)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--conversations", default="1,10,50,200")
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--single", type=int, default=100, help="messages at one conversation")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", default=os.getenv("BENCH_DATABASE_URL", ""))
    parser.add_argument("--relays", type=int, default=0, help="manage.py relay processes")
    parser.add_argument("--label", default="")
    parser.add_argument("--out", default="")
    arguments = parser.parse_args()
    arguments.label = arguments.label or (
        f"{'postgresql' if arguments.database_url else 'sqlite'}-{arguments.workers}"
        + (f"-relays{arguments.relays}" if arguments.relays else "")
    )
    output = Path(
        arguments.out or ROOT / "bench" / "results" / f"throughput-{arguments.label}.json"
    )
    found = asyncio.run(main(arguments))
    save(found, output)
    report(found)
