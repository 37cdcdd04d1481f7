"""Helpers shared by the relay's end-to-end tests (no tests here): servers, the emulator's
record, final states."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.client import ChatUser
from tests.liveserver import ROOT, LiveServer, free_port

Messages = list[dict[str, Any]]

# Every relay test server: our own API's rate limits off (the matrix sends quickly from one
# address), short back-off so that retries stay cheap.
RELAY_ENV = {"RATELIMIT_ENABLED": "false", "KORE_RETRY_BASE_MS": "100"}


def relay_server(db_path: Path, **env: str) -> LiveServer:
    return LiveServer(db_path, {**RELAY_ENV, **env})


def add_unreachable_bots(server: LiveServer) -> None:
    """`<slug>-down` for every demo bot: the same settings, an upstream nobody listens on."""
    code = (
        "from webclient.models import Bot\n"
        "for bot in list(Bot.objects.filter(slug__startswith='demo')):\n"
        "    bot.pk = None\n"
        "    bot.slug += '-down'\n"
        f"    bot.upstream_url = 'http://127.0.0.1:{free_port()}'\n"
        "    bot.save()\n"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=server.env, check=True
    )


# A server started with this in its environment answers /metrics (held_polls).
METRICS_ENV = {"METRICS_TOKEN": "metrics-token-for-the-relay-tests"}


def held_polls(server: LiveServer) -> float:
    """The long-polls the server holds right now, by its /metrics (started with METRICS_ENV)."""
    answer = httpx.get(
        f"{server.url}/metrics",
        headers={"Authorization": f"Bearer {server.env['METRICS_TOKEN']}"},
        timeout=10,
    )
    answer.raise_for_status()
    for line in answer.text.splitlines():
        if line.startswith("kore_chat_longpolls_held "):
            return float(line.split()[1])
    raise AssertionError("no kore_chat_longpolls_held in /metrics")


def emulator_record(base_url: str, identity: str, wait: float = 0) -> dict[str, Any]:
    """What the emulated platform got from (and sent to) this user; `wait` lets callbacks out."""
    answer = httpx.get(
        f"{base_url}/emulator/_control/received",
        params={"user": identity, "wait": wait},
        timeout=wait + 10,
    )
    answer.raise_for_status()
    record: dict[str, Any] = answer.json()
    return record


def fail_next(base_url: str, bot_id: str, status: int, **extra: Any) -> None:
    httpx.post(
        f"{base_url}/emulator/_control/fail-next", json={"bot": bot_id, "status": status, **extra}
    ).raise_for_status()


def final_history(
    user: ChatUser, done: Callable[[Messages], bool], timeout: float = 20
) -> Messages:
    """The whole history once `done` holds and the bot is no longer pending."""
    deadline = time.monotonic() + timeout
    while True:
        answer = user.poll(after=0, wait=0)
        if done(answer["messages"]) and not answer["pending"]:
            return list(answer["messages"])
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"not done within {timeout}s: {answer}")
        # Woken by the next message; also re-checks `pending` every second.
        user.poll(after=answer["cursor"], wait=1)


def of_role(messages: Messages, role: str) -> Messages:
    return [m for m in messages if m["role"] == role]


def texts(messages: Messages, role: str = "bot") -> list[str]:
    return [m["text"] for m in of_role(messages, role)]


def has_bot_text(fragment: str) -> Callable[[Messages], bool]:
    return lambda messages: any(fragment in text for text in texts(messages))


def sent_messages(record: dict[str, Any]) -> list[Any]:
    """The `message` of every body the bot accepted (HTTP 200), in order."""
    return [body["message"] for body in record["received"]]


def utterance(message: dict[str, Any]) -> Any:
    """The user's words in a V1 or V2 request message."""
    return message.get("val", message.get("text"))
