"""docs/deployment.md, followed as an operator would: its minimum production environment and
its several-workers block, line by line, in fresh processes, on a fresh PostgreSQL database
and the real Redis, with two web workers and a relay process; then a chat through them.

Only what names the operator's own machines changes: hosts and passwords become this
machine's servers, the port a free one, the load balancer this test (it sends what a
TLS-terminating proxy sends), and Kore the embedded emulator of another server (on
loopback, hence KORE_ALLOW_LOOPBACK_UPSTREAM); its Redis keys get a prefix of their own.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from cryptography.fernet import Fernet

from tests.liveserver import ROOT, LiveServer, free_port
from tests.servers import postgres_database, redis_url

DOC = ROOT / "docs" / "deployment.md"
ORIGIN = "https://www.example.com"
LINE = re.compile(r"^([A-Z_]+)=(\S+)")


def code_block_after(text: str, marker: str) -> list[str]:
    """The lines of the first fenced block after `marker`, comments dropped."""
    rest = text[text.index(marker) :]
    block = rest.split("```", 2)[1]
    lines = [line.split("  #")[0].rstrip() for line in block.splitlines()[1:]]
    return [line for line in lines if line]


def follow(lines: list[str], replace: dict[str, str]) -> tuple[dict[str, str], list[list[str]]]:
    """The environment the lines set and the commands they run, with `replace` applied."""
    env: dict[str, str] = {}
    commands: list[list[str]] = []
    for line in lines:
        for old, new in replace.items():
            line = line.replace(old, new)
        assignment = LINE.match(line)
        if assignment:
            env[assignment[1]] = assignment[2]
        else:
            assert line.startswith("python "), f"not an assignment nor a command: {line}"
            commands.append([sys.executable, *shlex.split(line)[1:]])
    return env, commands


def run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, f"{command}: {done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture
def kore(tmp_path: Path) -> Iterator[LiveServer]:
    """Kore: another server's embedded emulator, with its seeded demo channels."""
    emulator = LiveServer(tmp_path / "kore.sqlite3")
    emulator.migrate()
    emulator.start()
    yield emulator
    emulator.stop()


def channel_of(kore: LiveServer) -> dict[str, str]:
    """The V2 channel of the emulator's demo bot, as Kore's channel page shows it."""
    fields = kore.shell(
        "from webclient.emulator.models import EmulatedWebhook as W\n"
        "w = W.objects.get(version=2, is_async=False, instance_id='')\n"
        "print(w.bot_id, w.client_id, w.client_secret)"
    ).split()
    return dict(zip(("bot_id", "client_id", "client_secret"), fields, strict=True))


def test_the_deployment_doc_followed_literally_serves_chats_on_two_workers(
    tmp_path: Path, kore: LiveServer
) -> None:
    text = DOC.read_text()
    port = free_port()
    kore_host = kore.url.removeprefix("http://").split(":")[0]
    with postgres_database("kc_deploydoc") as database_url:
        replace = {
            "<50+ random characters>": secrets.token_urlsafe(50),
            '<Fernet key: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())">': Fernet.generate_key().decode(),
            "KORE_UPSTREAM_HOSTS=bots.kore.ai": f"KORE_UPSTREAM_HOSTS={kore_host}",
            "postgres://kore:<password>@db.internal:5432/kore_chat?sslmode=require": (database_url),
            "redis://cache.internal:6379/0": redis_url(),
            # Not there yet: the server makes it.
            "/run/kore-chat/prometheus": str(tmp_path / "run" / "kore-chat" / "prometheus"),
            "TRUSTED_PROXIES=10.0.0.5": "TRUSTED_PROXIES=127.0.0.1",
            "--host 0.0.0.0 --port 8000": f"--host 127.0.0.1 --port {port}",
        }
        minimum, _ = follow(code_block_after(text, "## Minimum production environment"), {})
        assert minimum.keys() >= {"DEBUG", "SECRET_KEY", "FIELD_ENCRYPTION_KEY", "HTTPS"}
        production, none = follow(
            code_block_after(text, "## Minimum production environment"), replace
        )
        workers, commands = follow(code_block_after(text, "<!-- workers-block"), replace)
        assert not none
        assert [command[1:3] for command in commands] == [
            ["manage.py", "migrate"],
            ["-m", "kore_chat.serve"],
            ["manage.py", "relay"],
        ]
        assert workers["KORE_DISPATCHER"] == "false"
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)},
            "DB_PATH": str(tmp_path / "unused.sqlite3"),
            "STATIC_ROOT": str(tmp_path / "static"),
            **production,
            **workers,
            "KORE_ALLOW_LOOPBACK_UPSTREAM": "true",
            # Parallel runs share the Redis server: keys of this run's own.
            "CACHE_KEY_PREFIX": f"kc-deploydoc-{secrets.token_hex(5)}",
        }
        migrate, serve, relay_command = commands
        run(migrate, env)
        channel = channel_of(kore)
        run(
            [
                sys.executable,
                "manage.py",
                "create_bot",
                "--slug=support",
                "--name=Support",
                f"--bot-id={channel['bot_id']}",
                f"--client-id={channel['client_id']}",
                f"--upstream-url={kore.url}/emulator",
                "--mode=sync",
                f"--allowed-origin={ORIGIN}",
            ],
            {**env, "BOT_CLIENT_SECRET": channel["client_secret"]},
        )
        log = (tmp_path / "serve.log").open("wb")
        server = subprocess.Popen(serve, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        relay = subprocess.Popen(
            relay_command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            chat_through(f"http://127.0.0.1:{port}", server, tmp_path / "serve.log")
            assert relay.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
        finally:
            for process in (relay, server):
                process.terminate()
                process.wait(timeout=30)


def as_load_balancer(base_url: str) -> httpx.Client:
    """What reaches the workers from a TLS-terminating proxy for a visitor's browser."""
    return httpx.Client(
        base_url=base_url,
        timeout=60,
        headers={
            "Host": "chat.example.com",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.7",
            "Origin": ORIGIN,
        },
    )


def chat_through(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    http = as_load_balancer(base_url)
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            if http.get("/readyz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    workers = psutil.Process(server.pid).children()
    assert len(workers) == 2, [child.cmdline() for child in workers]
    token = http.post("/api/v1/sts", json={"bot": "support"})
    assert token.status_code == 200, token.text
    http.headers["Authorization"] = f"Bearer {token.json()['jwt']}"
    sent = http.post(
        "/api/v1/messages", json={"text": "hello", "clientMessageId": str(uuid.uuid4())}
    )
    assert sent.status_code == 202, sent.text
    answers: list[dict[str, Any]] = []
    cursor = 0
    while not any(m["role"] == "bot" for m in answers):
        assert time.monotonic() < deadline + 30, answers
        poll = http.get("/api/v1/messages", params={"after": cursor, "wait": 10})
        assert poll.status_code == 200, poll.text
        answers += poll.json()["messages"]
        cursor = poll.json()["cursor"]
    assert [m["text"] for m in answers if m["role"] == "user"] == ["hello"]
    assert all(m["status"] != "failed" for m in answers)


def test_a_metrics_directory_that_cannot_be_made_stops_migrate_with_one_line_saying_what_to_do(
    tmp_path: Path,
) -> None:
    (tmp_path / "a-file").write_text("")
    env = {
        **os.environ,
        "DB_PATH": str(tmp_path / "db.sqlite3"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "a-file" / "prometheus"),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: PROMETHEUS_MULTIPROC_DIR=")
    assert "create that directory, writable by this user, or unset it" in last
