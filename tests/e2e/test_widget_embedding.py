"""Embedding as README says, and page context handed to the bot within the admin's limits."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.widget import PAGES, open_embedded_chat, open_host, received_text, say, wait_for_bot
from tests.liveserver import ROOT, LiveServer

pytestmark = pytest.mark.browser

README = Path(ROOT / "README.md")
SETUP = """
from webclient.models import Bot
bot = Bot.objects.get(slug="demo")
bot.page_context_keys = "plan\\npage\\ntier"
bot.custom_data = {"tier": "set-by-the-admin"}
bot.theme_title = "Acme help"
bot.theme_color = "#ffd400"
bot.theme_launcher_position = "left"
bot.theme_welcome_text = "We answer in minutes."
bot.save()
"""


@pytest.fixture(scope="module")
def context_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose demo bot takes `plan`, `page` and `tier` from embedding pages, and
    has a theme: yellow, launcher on the left."""
    server = LiveServer(tmp_path_factory.mktemp("context") / "db.sqlite3")
    server.migrate()
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETUP], cwd=ROOT, env=server.env, check=True
    )
    server.start()
    yield server.url
    server.stop(kill=True)


def test_the_readme_snippet_works_as_written_on_another_local_site(
    new_context: Any, live_server_url: str, host_origin: str
) -> None:
    snippet = re.search(r"<!-- embed-snippet -->\n```html\n(.+?)\n```", README.read_text(), re.S)
    assert snippet is not None
    PAGES["/readme"] = (
        "<!doctype html><html lang='en'><body><h1>My site</h1>"
        + snippet.group(1).replace("http://127.0.0.1:8000", live_server_url)
        + "</body></html>"
    )
    page = new_context().new_page()
    page.goto(host_origin + "/readme")
    open_embedded_chat(page)


def test_page_context_reaches_the_bot_only_for_allowed_keys_under_the_bots_own(
    new_context: Any, context_server: str, host_origin: str
) -> None:
    who = f"shopper-{uuid.uuid4()}"
    context = new_context()
    page = open_host(
        context,
        host_origin,
        context_server,
        identity=who,
        custom_data='{"plan": "gold", "tier": "forged", "card": "4111"}'.replace('"', "&quot;"),
        meta_tags='{"page": "checkout", "other": "x"}'.replace('"', "&quot;"),
    )
    chat = open_embedded_chat(page)
    say(chat, "with context")
    body = received_text(context_server, who, "with context")
    assert body["customData"] == {"plan": "gold", "tier": "set-by-the-admin"}
    assert body["metaTags"] == {"page": "checkout"}
    # A single-page site changes it later.
    page.evaluate("KoreChat.setContext({customData: {plan: 'silver'}})")
    say(chat, "changed plan")
    body = received_text(context_server, who, "changed plan")
    assert body["customData"] == {"plan": "silver", "tier": "set-by-the-admin"}
    assert "metaTags" not in body


def test_the_bots_theme_colours_the_panel_and_places_the_launcher(
    new_context: Any, context_server: str, host_origin: str
) -> None:
    page = open_host(
        new_context(viewport={"width": 1200, "height": 800}), host_origin, context_server
    )
    launcher = page.get_by_role("button", name="Open chat")
    page.wait_for_function(
        "() => document.querySelector('[aria-controls=kore-chat-frame]').style.left === '20px'"
    )
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(255, 212, 0)"
    assert launcher.evaluate("b => getComputedStyle(b).color") == "rgb(0, 0, 0)"
    chat = open_embedded_chat(page)
    header = chat.locator(".kc-header")
    assert header.evaluate("h => getComputedStyle(h).backgroundColor") == "rgb(255, 212, 0)"
    assert header.evaluate("h => getComputedStyle(h).color") == "rgb(0, 0, 0)"
    assert chat.locator("h1").inner_text() == "Acme help"
    assert chat.locator(".kc-welcome").inner_text() == "We answer in minutes."
    assert page.locator("iframe").bounding_box()["x"] == 20


def test_the_chime_is_off_unless_the_snippet_asks_for_it(
    new_context: Any, live_server_url: str, host_origin: str
) -> None:
    for sound, chimes in (("", 0), ("on", 2)):
        context = new_context()
        # Count the sounds the page makes: each chime is one oscillator started.
        context.add_init_script(
            "window.chimes = 0; const start = OscillatorNode.prototype.start;"
            " OscillatorNode.prototype.start = function (...a) { window.chimes++;"
            " return start.apply(this, a); };"
        )
        page = open_host(
            context, host_origin, live_server_url, **({"sound": sound} if sound else {})
        )
        chat = open_embedded_chat(page)
        say(chat, "slow 2")
        wait_for_bot(chat, "Working on it")
        before = page.evaluate("window.chimes")
        chat.get_by_role("button", name="Minimise").click()
        page.get_by_role("button", name="Open chat (2 unread messages)").wait_for(timeout=10_000)
        assert page.evaluate("window.chimes") - before == chimes
