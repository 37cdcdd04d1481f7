"""What an existing Kore Web SDK site gains by pointing the SDK at the relay
(docs/kore-sdk.md), measured in headless Chromium with the SDK's bundle unmodified.

Baseline: the same SDK page talking to the embedded emulator directly, as a site talks to
Kore. Both run in one go, on loopback, against one server:

1. Requests per minute while idle, counted over a window (`--seconds`) that starts once the
   bot answered `hello`: the SDK polls once a second while its last answer carried a
   pollId. Then, on a second server whose poll chain lives `--chain` seconds, the same
   count once the chain's life is over: it must be zero (the chain ends).
2. Time from pressing Enter on `hello` to the bot's answer on screen, for the V2 sync bot
   and for an asynchronous one (V2 async): Kore answers an asynchronous bot only at its
   POST_URL, which a browser cannot be, so the baseline shows nothing within `--timeout`.

Usage: .venv/bin/python bench/kore_sdk_bench.py [--seconds 20] [--chain 5] [--timeout 15]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from bench.harness import check, save
from tests.browser import CHROMIUM_ARGS, chromium_path
from tests.emulator.test_kore_web_sdk import BOT, COMPOSE, SDK_FILES
from tests.liveserver import LiveServer
from tests.relay_helpers import relay_server

GREETING = "Hello! Nice to meet you."


def bots(server: LiveServer) -> dict[str, dict[str, Any]]:
    code = (
        "import json\n"
        "from webclient.models import Bot\n"
        "print(json.dumps({b.slug: {'bot_id': b.bot_id, 'client_id': b.client_id,"
        " 'name': b.name, 'instance': b.hook_instance_id} for b in Bot.objects.all()}))"
    )
    found: dict[str, dict[str, Any]] = json.loads(server.shell(code))
    return found


def sdk_url(base: str, bot: dict[str, Any], through_relay: bool) -> str:
    instance = f"/hookInstance/{bot['instance']}" if bot["instance"] else ""
    root = f"{base}/kore" if through_relay else f"{base}/emulator"
    query = {
        "botId": bot["bot_id"],
        "clientId": bot["client_id"],
        "botName": bot["name"],
        "user": f"bench-{uuid.uuid4().hex[:10]}@example.com",
        "koreAPIUrl": f"{root}/api/",
        "webhookURL": f"{root}/chatbot/v2/webhook/{bot['bot_id']}{instance}",
        "apiVersion": 2,
    }
    return f"{base}/sdk/index.html?{urlencode(query)}"


def serve_sdk(route: Any) -> None:
    path, content_type = SDK_FILES[Path(urlsplit(route.request.url).path).name]
    route.fulfill(body=path.read_bytes(), content_type=f"{content_type}; charset=utf-8")


class Tab:
    """One SDK page, with every request it makes after the page's own files."""

    def __init__(self, browser: Any, url: str, welcome: bool = True) -> None:

        self.page = browser.new_page()
        self.requests: list[float] = []
        base = url.split("/sdk/", 1)[0]
        self.page.route(f"{base}/sdk/**", serve_sdk)
        self.page.on(
            "request",
            lambda r: self.requests.append(time.monotonic()) if "/sdk/" not in r.url else None,
        )
        self.page.goto(url)
        # Ready once the welcome (the answer to its ON_CONNECT) is shown; with none to come
        # (an asynchronous bot straight from Kore), once the page stops making requests.
        if welcome:
            self.page.locator(BOT).first.wait_for(timeout=15_000)
        else:
            self.page.wait_for_load_state("networkidle")

    def answer_time(self, text: str, expected: str, timeout: float) -> float | None:
        """Seconds from Enter to `expected` on screen; None if not within `timeout`."""
        self.page.locator(COMPOSE).fill(text)
        started = time.monotonic()
        self.page.locator(COMPOSE).press("Enter")
        try:
            self.page.locator(BOT, has_text=expected).first.wait_for(timeout=timeout * 1000)
        except PlaywrightTimeout:
            return None
        return time.monotonic() - started

    def per_minute(self, seconds: float) -> float:
        """Requests per minute over the next `seconds` (the page idle)."""
        start = time.monotonic()
        self.page.wait_for_timeout(seconds * 1000)
        count = sum(1 for t in self.requests if t >= start)
        return round(count * 60 / seconds, 1)


def measure(browser: Any, base: str, demo: dict[str, dict[str, Any]], args: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, through_relay in (("kore_direct", False), ("relay", True)):
        sync = Tab(browser, sdk_url(base, demo["demo"], through_relay))
        answer = sync.answer_time("hello", GREETING, args.timeout)
        idle = sync.per_minute(args.seconds)
        sync.page.close()
        asynchronous = Tab(
            browser, sdk_url(base, demo["demo-v2-async"], through_relay), welcome=through_relay
        )
        async_answer = asynchronous.answer_time("hello", GREETING, args.timeout)
        asynchronous.page.close()
        found[name] = {
            "idle_requests_per_minute": idle,
            "sync_answer_s": answer and round(answer, 3),
            "async_answer_s": async_answer and round(async_answer, 3),
        }
    return found


def with_server(chain: int | None, run: Callable[[str, dict[str, dict[str, Any]]], Any]) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"KORE_SDK_POLL_CHAIN": str(chain)} if chain else {}
        server = relay_server(Path(tmp) / "db.sqlite3", **env)
        server.migrate()
        demo = bots(server)
        server.start()
        try:
            return run(server.url, demo)
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--chain", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=15)
    parser.add_argument("--out", default="bench/results/kore_sdk.json")
    args = parser.parse_args()
    path = chromium_path()
    check(path is not None, "Chromium is missing (scripts/ensure-chromium)")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        found = with_server(None, lambda base, demo: measure(browser, base, demo, args))

        def after_chain(base: str, demo: dict[str, dict[str, Any]]) -> float:
            tab = Tab(browser, sdk_url(base, demo["demo"], True))
            check(tab.answer_time("hello", GREETING, args.timeout) is not None, "no answer")
            tab.page.wait_for_timeout((args.chain + 2) * 1000)
            return tab.per_minute(args.seconds)

        found["relay"]["idle_requests_per_minute_after_chain"] = with_server(
            args.chain, after_chain
        )
        browser.close()
    found["settings"] = {"seconds": args.seconds, "chain": args.chain, "timeout": args.timeout}
    # What was measured is what is claimed: both setups answered the sync bot, the relay
    # answered the async one, and the chain ended.
    check(found["kore_direct"]["sync_answer_s"] is not None, "baseline: no sync answer")
    check(found["relay"]["sync_answer_s"] is not None, "relay: no sync answer")
    check(found["relay"]["async_answer_s"] is not None, "relay: no async answer")
    check(found["relay"]["idle_requests_per_minute_after_chain"] == 0, "the chain did not end")
    save(found, args.out)
    print(json.dumps(found, indent=1))


if __name__ == "__main__":
    main()
