"""The README's "Connect your Kore bot", rehearsed against the emulator as docs/emulator.md
walks it, with only documented commands, on a real server in its own process:

1. `emulator_channel create` (Kore's channel page: bot id, client id, client secret);
2. the mode: V2 synchronous with polling, or asynchronous;
3. `create_bot` with the BOT_* variables and those credentials (upstream left blank: this
   server's emulator), then `check_upstream`;
4. async: `emulator_channel set-post-url` with the POST_URL (SITE_ROOT/hooks/kore/<slug>/
   <callback secret>/, the secret passed as BOT_CALLBACK_SECRET);
5. the allowed origin: a page there gets a token, a page elsewhere is refused;
then the page's user sends `hello` (and slow work, `slow 1`) and the bot's answers arrive
by long-poll.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.liveserver import ROOT, LiveServer

SHOP = "https://shop.example.com"
GREETING = "Hello! Nice to meet you."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("connect") / "db.sqlite3")
    live.migrate()  # as `make run` does
    live.start()
    yield live
    live.stop()


def manage(
    live: LiveServer, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`python manage.py …` against the server's settings and database, as an operator runs it."""
    clean = {k: v for k, v in live.env.items() if not k.startswith("BOT_")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **(env or {})},
        check=check,
        capture_output=True,
        text=True,
    )


def long_poll_until(
    http: httpx.Client, text: str, cursor: int = 0, timeout: float = 30
) -> list[dict[str, Any]]:
    """The messages after `cursor`, long-polled until the bot has said `text`."""
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = http.get("/api/v1/messages", params={"after": cursor, "wait": 10})
        assert answer.status_code == 200, answer.text
        cursor = answer.json()["cursor"]
        received += answer.json()["messages"]
        if any(m["role"] == "bot" and m.get("text") == text for m in received):
            return received
    raise AssertionError(f"no {text!r} within {timeout}s: {received}")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_readmes_five_steps_connect_a_bot_on_the_emulator(
    server: LiveServer, mode: str
) -> None:
    slug = f"shop-{mode}"
    # 1. Create the webhook channel on the (emulated) platform; its page shows the credentials.
    page = json.loads(
        manage(
            server,
            "emulator_channel",
            "create",
            "--name",
            f"Shop ({mode})",
            "--version",
            "2",
            "--mode",
            mode,
            "--json",
        ).stdout
    )
    assert page["webhook_url"].startswith(f"{server.url}/emulator/chatbot/v2/webhook/st-")
    # 2 and 3. The same version and mode on the relay's bot, with the channel's credentials.
    callback_secret = secrets.token_urlsafe(24)
    created = manage(
        server,
        "create_bot",
        env={
            "BOT_SLUG": slug,
            "BOT_NAME": f"Shop ({mode})",
            "BOT_ID": page["bot_id"],
            "BOT_CLIENT_ID": page["client_id"],
            "BOT_CLIENT_SECRET": page["client_secret"],
            "BOT_API_VERSION": "2",
            "BOT_MODE": mode,
            "BOT_CALLBACK_SECRET": callback_secret,
            "BOT_ALLOWED_ORIGINS": SHOP,
        },
    ).stdout
    assert f"Bot {slug} created." in created
    assert page["client_secret"] not in created and callback_secret not in created
    check = manage(server, "check_upstream", slug, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Connected" in check.stdout
    # 4. Async: the platform is given the POST_URL the relay's bot page shows.
    if mode == "async":
        post_url = f"{server.url}/hooks/kore/{slug}/{callback_secret}/"
        shown = json.loads(
            manage(
                server, "emulator_channel", "set-post-url", page["bot_id"], post_url, "--json"
            ).stdout
        )
        assert shown["post_url"] == post_url
    # 5. A page on the allowed origin gets a token; a page anywhere else is refused.
    refused = httpx.post(
        f"{server.url}/api/v1/sts",
        json={"bot": slug},
        headers={"Origin": "https://elsewhere.example.com"},
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "origin_not_allowed"
    with httpx.Client(base_url=server.url, headers={"Origin": SHOP}, timeout=30) as http:
        token = http.post("/api/v1/sts", json={"bot": slug})
        assert token.status_code == 200, token.text
        http.headers["Authorization"] = f"Bearer {token.json()['jwt']}"
        sent = http.post(
            "/api/v1/messages", json={"clientMessageId": str(uuid.uuid4()), "text": "hello"}
        )
        assert sent.status_code == 202, sent.text
        received = long_poll_until(http, GREETING)
        # Slow work: a pollId the relay polls (sync), or a later POST to the POST_URL (async).
        http.post("/api/v1/messages", json={"clientMessageId": str(uuid.uuid4()), "text": "slow 1"})
        received += long_poll_until(http, "Done after 1 s.", cursor=received[-1]["id"])
    assert [m["text"] for m in received if m["role"] == "user"] == ["hello", "slow 1"]
