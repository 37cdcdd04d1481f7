"""The ORM against plain SQL, statement by statement, on SQLite and PostgreSQL in one run.

For each statement that webclient/plainsql.py keeps in plain SQL, the ORM query that gives
the same answer and the plain statement run `--calls` times each, alternately in
`--rounds` rounds, inside one transaction (what building and running a statement costs, not
a commit). Each database runs in a process of its own (a fresh SQLite file; a fresh
PostgreSQL database, dropped after). Reported per statement: µs of this process's CPU per
call (the median round) for each, and the ratio ORM ÷ plain; wall time too, which on
PostgreSQL includes the server's work on the other core. Checked before timing, so that it
measures what it says: both give the same answer, and each makes exactly one query.

    .venv/bin/python -m bench.plainsql_bench [--calls 1000] [--rounds 5]

The conditional INSERT … ON CONFLICT … WHERE of a V1 callback is not compared: the ORM has
no way to write it in one statement (it is plain SQL for what it does, not for speed).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.harness import check, command_line, save, setup_django

ROOT = Path(__file__).resolve().parent.parent


def cases() -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """For each kept statement, (ORM, plain): two ways to the same answer, on one row."""
    from django.db import models
    from django.utils import timezone

    from webclient import plainsql, services
    from webclient.models import Bot, Conversation, Message
    from webclient.render import Rendered

    bot = Bot.objects.get(slug="demo")
    c = services.conversation_get_or_create(bot=bot, identity="bench")
    m = services.message_create(
        conversation=c,
        role=Message.Role.USER,
        rendered=Rendered(kind=Message.Kind.TEXT, text="hi", html=""),
        client_message_id="client-1",
        status=Message.Status.ACCEPTED,
    )
    accepted = Message.Status.ACCEPTED
    now = timezone.now()
    until = now + timedelta(seconds=30)
    at, at_until = plainsql.moment(now), plainsql.moment(until)
    conversations, messages = Conversation.objects, Message.objects
    free = (
        models.Q(dispatch_lease_until__isnull=True)
        | models.Q(dispatch_lease_until__lt=now)
        | models.Q(dispatch_owner="bench")
    )
    newer = models.Exists(Message.objects.filter(conversation=models.OuterRef("pk"), id__gt=0))
    return {
        "CONVERSATION_ID": (
            lambda: list(
                conversations.filter(bot_id=bot.pk, identity="bench").values_list("id")[:1]
            ),
            lambda: [row for row in [plainsql.CONVERSATION_ID.one([bot.pk, "bench"])] if row],
        ),
        "MESSAGE_WITH_CLIENT_ID": (
            lambda: messages.filter(conversation_id=c.pk, client_message_id="client-1").exists(),
            lambda: plainsql.MESSAGE_WITH_CLIENT_ID.one([c.pk, "client-1"]) is not None,
        ),
        "POLL_STATES (one poll)": (
            lambda: list(
                conversations.filter(bot_id=bot.pk, identity="bench")
                .annotate(newer=newer)
                .values_list("pending", "newer")
            ),
            lambda: [
                (bool(p), bool(n))
                for _, p, n in plainsql.POLL_STATES.all([0, bot.pk, "bench", 0], rows=1)
            ],
        ),
        "DISPATCH_LEASE_TAKE": (
            lambda: conversations.filter(free, pk=c.pk).update(
                dispatch_owner="bench", dispatch_lease_until=until
            ),
            lambda: plainsql.DISPATCH_LEASE_TAKE.count(["bench", at_until, c.pk, at, "bench"]),
        ),
        "DISPATCH_LEASE_DROP": (
            lambda: conversations.filter(pk=c.pk, dispatch_owner="nobody").update(
                dispatch_owner="", dispatch_lease_until=None
            ),
            lambda: plainsql.DISPATCH_LEASE_DROP.count([c.pk, "nobody"]),
        ),
        "OUTBOX_HEAD": (
            lambda: list(
                messages.filter(conversation_id=c.pk, status=accepted)
                .order_by("id")
                .values_list("id", "forward_started_at")[:1]
            ),
            lambda: [row for row in [plainsql.OUTBOX_HEAD.one([c.pk, accepted])] if row],
        ),
        "MESSAGE_CLAIM": (
            lambda: messages.filter(pk=m.pk).update(
                forward_started_at=None, forward_lease_until=until
            ),
            lambda: plainsql.MESSAGE_CLAIM.count([None, at_until, m.pk]),
        ),
        "MESSAGE_SENT": (
            lambda: messages.filter(pk=m.pk, status=accepted).update(status=accepted),
            lambda: plainsql.MESSAGE_SENT.count([accepted, m.pk, accepted]),
        ),
        "OUTBOX_WAITS": (
            lambda: messages.filter(
                conversation_id=c.pk, status=accepted, forward_started_at__isnull=True
            ).exists(),
            lambda: plainsql.OUTBOX_WAITS.one([c.pk, accepted]) is not None,
        ),
    }


def checked(name: str, orm: Callable[[], Any], plain: Callable[[], Any]) -> None:
    """Both give the same answer, with one query each."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    answers = []
    for run in (orm, plain):
        with CaptureQueriesContext(connection) as queries:
            answers.append(run())
        check(len(queries) == 1, f"{name}: {len(queries)} queries, not one")
    check(answers[0] == answers[1], f"{name}: ORM {answers[0]!r}, plain SQL {answers[1]!r}")


def timed(run: Callable[[], Any], calls: int) -> tuple[float, float]:
    """µs of CPU and of wall time per call."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        run()
    return (
        (time.process_time() - cpu) / calls * 1e6,
        (time.perf_counter() - wall) / calls * 1e6,
    )


def measure(calls: int, rounds: int) -> dict[str, Any]:
    """In this process, on the database its environment names."""
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    found: dict[str, Any] = {}
    with transaction.atomic():
        for name, (orm, plain) in cases().items():
            checked(name, orm, plain)
            for run in (orm, plain):  # warm up: connections, caches
                timed(run, max(calls // 10, 10))
            samples: dict[str, list[tuple[float, float]]] = {"orm": [], "plain": []}
            for _ in range(rounds):
                samples["orm"].append(timed(orm, calls))
                samples["plain"].append(timed(plain, calls))
            found[name] = {
                side: {
                    "cpu_us": statistics.median(cpu for cpu, _ in runs),
                    "wall_us": statistics.median(wall for _, wall in runs),
                }
                for side, runs in samples.items()
            }
        transaction.set_rollback(True)
    return {"vendor": connection.vendor, "statements": found}


def child(database_url: str, calls: int, rounds: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.plainsql_bench", "--child", database_url]
    command += ["--calls", str(calls), "--rounds", str(rounds)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"the {database_url or 'sqlite'} run failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.splitlines()[-1]))


def report(results: list[dict[str, Any]]) -> None:
    vendors = [result["vendor"] for result in results]
    print("| statement | " + " | ".join(f"{v}: ORM / plain, µs CPU" for v in vendors) + " |")
    print("|---|" + "---|" * len(vendors))
    for name in results[0]["statements"]:
        cells = []
        for result in results:
            one = result["statements"][name]
            orm, plain = one["orm"]["cpu_us"], one["plain"]["cpu_us"]
            cells.append(f"{orm:.0f} / {plain:.0f} (x{orm / plain:.1f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    for result in results:
        statements = result["statements"].values()
        saved = sum(s["orm"]["cpu_us"] - s["plain"]["cpu_us"] for s in statements)
        wall = sum(s["orm"]["wall_us"] - s["plain"]["wall_us"] for s in statements)
        print(
            f"{result['vendor']}: once each, the ORM costs {saved:.0f} µs more CPU"
            f" ({wall:.0f} µs more wall time) than plain SQL"
        )


def main() -> None:
    if "--child" in sys.argv:
        at = sys.argv.index("--child")
        url = sys.argv.pop(at + 1)
        sys.argv.pop(at)
    else:
        url = None
    args = command_line(__doc__, "plainsql.json", calls=1000, rounds=5)
    if url is not None:
        with tempfile.TemporaryDirectory() as tmp:
            setup_django(Path(tmp) / "bench.sqlite3", {"DATABASE_URL": url})
            print(json.dumps(measure(args.calls, args.rounds)))
        return
    from tests.servers import create_database, drop_database, postgres_server_url

    results = [child("", args.calls, args.rounds)]
    postgres = create_database(postgres_server_url(), "kc_bench")
    try:
        results.append(child(postgres, args.calls, args.rounds))
    finally:
        drop_database(postgres)
    report(results)
    save({"calls": args.calls, "rounds": args.rounds, "results": results}, args.out)


if __name__ == "__main__":
    main()
