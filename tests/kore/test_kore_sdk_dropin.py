"""Kore's own Web SDK (npm `kore-web-sdk`, pinned and unmodified in tests/sdk) in real
Chromium, pointed at the relay's Kore-compatible routes (docs/kore-sdk.md) instead of Kore:
the two URLs changed and nothing else, with the relay pointed at the emulator in each mode
(V1 sync, V2 sync with polling, V2 async, V1 async).

Each step is checked on screen and in the emulator's record (what the bot got, each once),
and every request the page makes is watched: only the relay may be reached, and never the
emulated platform directly.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import pytest

from tests.emulator.test_kore_web_sdk import (
    BOT,
    COMPOSE,
    LOOPBACK,
    USER,
    sdk_installed,
    serve_sdk_file,
)
from tests.relay_helpers import emulator_record, relay_server, sent_messages
from webclient.emulator.demo_bot import WELCOME

if TYPE_CHECKING:
    from playwright.sync_api import FrameLocator, Page, Route

pytestmark = pytest.mark.browser

__all__ = ["sdk_installed"]  # the SDK's presence check, applied to this module too

GREETING = "Hello! Nice to meet you."
MODES = ["demo", "demo-v1-sync", "demo-v1-async", "demo-v2-async"]


@dataclass(frozen=True)
class Bot:
    slug: str
    bot_id: str
    client_id: str
    name: str
    version: int
    instance: str


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Bot]]]:
    server = relay_server(tmp_path_factory.mktemp("sdk-dropin") / "db.sqlite3")
    server.migrate()
    code = (
        "import json\n"
        "from webclient.models import Bot\n"
        "print(json.dumps([[b.slug, b.bot_id, b.client_id, b.name, b.api_version,"
        " b.hook_instance_id] for b in Bot.objects.all()]))"
    )
    bots = {row[0]: Bot(*row) for row in json.loads(server.shell(code))}
    server.start()
    yield server.url, bots
    server.stop()


@dataclass
class SdkChat:
    page: Page
    user: str
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def send(self, text: str) -> None:
        self.page.locator(COMPOSE).fill(text)
        self.page.locator(COMPOSE).press("Enter")
        self.page.locator(USER, has_text=text).last.wait_for()

    def bot_says(self, text: str) -> None:
        self.page.locator(BOT, has_text=text).first.wait_for()

    def shown(self, text: str) -> int:
        return self.page.locator(f"{USER}, {BOT}", has_text=text).count()


def sdk_query(base_url: str, bot: Bot, user: str) -> str:
    """The SDK's settings: the relay's two URLs (docs/kore-sdk.md) and the STS's."""
    if bot.version == 1:
        webhook = f"{base_url}/kore/chatbot/hooks/{bot.bot_id}"
    else:
        webhook = f"{base_url}/kore/chatbot/v2/webhook/{bot.bot_id}"
    if bot.instance:
        webhook += f"/hookInstance/{bot.instance}"
    return urlencode(
        {
            "botId": bot.bot_id,
            "clientId": bot.client_id,
            "botName": bot.name,
            "user": user,
            "koreAPIUrl": f"{base_url}/kore/api/",
            "webhookURL": webhook,
            "apiVersion": bot.version,
        }
    )


@pytest.fixture
def chat(
    browser: Any, relay: tuple[str, dict[str, Bot]], request: pytest.FixtureRequest
) -> Iterator[SdkChat]:
    base_url, bots = relay
    bot = bots[request.param]
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    sdk = SdkChat(page=page, user=f"sdk-{uuid.uuid4().hex[:12]}@example.com")

    def only_loopback(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host is not None and host not in LOOPBACK:
            sdk.foreign.append(route.request.url)
            route.abort()
            return
        route.continue_()

    context.route("**/*", only_loopback)
    page.route(f"{base_url}/sdk/**", serve_sdk_file)
    page.on("request", lambda r: sdk.requests.append(r.url))
    page.on("websocket", lambda socket: sdk.foreign.append(socket.url))
    page.on("pageerror", lambda exc: sdk.errors.append(str(exc)))
    page.goto(f"{base_url}/sdk/index.html?{sdk_query(base_url, bot, sdk.user)}")
    yield sdk
    context.close()
    # Every request went to the relay, none to the emulated platform: no foreign host.
    assert sdk.foreign == []
    assert all(url.startswith(base_url + "/") for url in sdk.requests if url.startswith("http"))
    assert not [url for url in sdk.requests if "/emulator/" in url]
    assert sdk.errors == []


def forwarded(base_url: str, user: str, wait: float = 0) -> list[Any]:
    """What the bot got from this user, in order: texts and events by value, a form's
    submission as "formData"."""
    record = emulator_record(base_url, user, wait)
    assert all(r["status"] == 200 for r in record["requests"]), record["requests"]
    said = []
    for message in sent_messages(record):
        value = message.get("val", message.get("text"))
        form = message.get("formData") or (value if message.get("type") == "formData" else None)
        said.append("formData" if form else value)
    return said


def fill_and_submit(form: FrameLocator) -> None:
    """Fill every required field of the demo bot's loan form in the SDK's iframe, submit."""
    root = form.locator("form[data-kc-form]")
    root.wait_for()
    values = {
        "email": "ann@example.com",
        "date": "1990-01-01",
        "number": "5000",
        "tel": "+15551234",
    }
    for input_ in root.locator("input[required], select[required], textarea[required]").all():
        kind = input_.evaluate("e => e.type || e.tagName.toLowerCase()")
        if kind.startswith("select"):
            input_.select_option(index=1)
        elif kind in ("radio", "checkbox"):
            input_.check()
        elif kind != "range":
            input_.fill(values.get(kind, "1234"))
    root.locator("button[type=submit]").first.click()
    form.locator(".kc-form-summary").wait_for()


@pytest.mark.parametrize("chat", MODES, indirect=True)
def test_the_unmodified_sdk_chats_through_the_relay(
    chat: SdkChat, relay: tuple[str, dict[str, Bot]]
) -> None:
    base_url, _ = relay
    # The welcome: V2 bots answer the SDK's ON_CONNECT; V1 bots take no events, and the
    # relay answers with the bot's welcome text, as the widget shows it.
    chat.bot_says(WELCOME)

    chat.send("hello")
    chat.bot_says(GREETING)

    chat.send("show button")
    template = chat.page.locator(f"{BOT} .buttonTmplContent").last
    template.wait_for()
    template.locator(".buttonTmplContentChild").first.click()
    chat.bot_says("You said: CHECK_BALANCE")

    # A Digital Form: a link to the relay's form page, shown inline in the SDK's iframe.
    chat.send("form")
    frame = chat.page.frame_locator(".inlineIframeContainer iframe").last
    fill_and_submit(frame)
    chat.bot_says("Thanks,")

    for text in (WELCOME, GREETING, "You said: CHECK_BALANCE"):
        assert chat.page.locator(BOT, has_text=text).count() == 1

    # A reload: history from the relay's store, then the SDK's new session.
    chat.page.reload()
    chat.page.locator(".endChatContainer").wait_for()
    for earlier in ("hello", GREETING, "show button", "Thanks,"):
        chat.page.locator(f"{USER}, {BOT}", has_text=earlier).first.wait_for()

    # V1 bots take no events (the relay keeps the SDK's ON_CONNECT to itself); a reload
    # starts a new SDK session, with its own ON_CONNECT.
    events = ["ON_CONNECT"] if chat_is_v2(chat) else []
    expected = [*events, "hello", "show button", "CHECK_BALANCE", "form", "formData", *events]
    said = forwarded(base_url, chat.user, wait=1 if "async" in chat.page.url else 0)
    assert said == expected


def chat_is_v2(chat: SdkChat) -> bool:
    return "apiVersion=2" in chat.page.url


@pytest.mark.parametrize("chat", MODES, indirect=True)
def test_a_send_the_sdk_retries_after_a_lost_answer_is_forwarded_and_shown_once(
    chat: SdkChat, relay: tuple[str, dict[str, Bot]]
) -> None:
    base_url, _ = relay
    chat.bot_says(WELCOME)
    lost: list[str] = []

    def lose_the_first_answer(route: Route) -> None:
        # The relay gets and handles the send; its answer never reaches the SDK, which
        # sends the same request again.
        if route.request.method == "POST" and not lost:
            route.fetch()
            lost.append(route.request.url)
            route.abort("connectionreset")
            return
        route.fallback()

    chat.page.route("**/kore/chatbot/**", lose_the_first_answer)
    chat.send("hello")
    chat.bot_says(GREETING)
    assert lost
    chat.send("show button")
    chat.page.locator(f"{BOT} .buttonTmplContent").last.wait_for()

    assert chat.page.locator(BOT, has_text=GREETING).count() == 1
    assert chat.page.locator(USER, has_text="hello").count() == 1
    said = forwarded(base_url, chat.user, wait=1 if "async" in chat.page.url else 0)
    assert [s for s in said if s != "ON_CONNECT"] == ["hello", "show button"]
