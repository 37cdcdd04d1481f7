"""The spine, as a person uses it: a real browser chatting with the demo bot."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_a_visitor_says_hello_sees_the_reply_and_keeps_the_history_on_reload(
    new_context: Any, live_server_url: str
) -> None:
    page = new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live_server_url + "/")

    # The welcome message arrives without the visitor doing anything (ON_CONNECT).
    page.locator(".kc-role-bot").first.wait_for(timeout=10_000)
    page.get_by_label("Message").fill("hello")
    page.keyboard.press("Enter")
    page.locator(".kc-role-user", has_text="hello").wait_for(timeout=10_000)
    replies = page.locator(".kc-role-bot")
    replies.nth(1).wait_for(timeout=10_000)
    reply_text = replies.nth(1).inner_text()
    assert reply_text.strip()

    page.reload()
    page.locator(".kc-role-user", has_text="hello").wait_for(timeout=10_000)
    page.locator(".kc-role-bot", has_text=reply_text.strip()[:20]).wait_for(timeout=10_000)
    assert page.locator(".kc-role-user").count() == 1
    assert errors == []


@pytest.mark.parametrize("bot", ["demo", "demo-v1-sync", "demo-v1-async", "demo-v2-async"])
def test_every_demo_bot_greets_and_answers_in_the_browser(
    new_context: Any, live_server_url: str, bot: str
) -> None:
    page = new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server_url}/?bot={bot}")
    # V2 bots greet through ON_CONNECT; V1 takes no events, so the widget shows the bot's
    # welcome text instead.
    page.get_by_text("Hi! I'm the demo bot.").first.wait_for(timeout=10_000)
    page.get_by_label("Message").fill("hello")
    page.keyboard.press("Enter")
    page.locator(".kc-role-bot", has_text="Hello! Nice to meet you.").wait_for(timeout=15_000)
    assert errors == []


def test_a_message_sent_while_the_chat_is_still_connecting_goes_once_it_is_connected(
    new_context: Any, live_server_url: str
) -> None:
    page = new_context().new_page()
    held: list[Any] = []
    # The token's answer waits until the visitor has pressed Enter: the widget is connecting.
    page.route("**/api/v1/sts", lambda route: held.append(route))
    with page.expect_request("**/api/v1/sts"):
        page.goto(f"{live_server_url}/?bot=demo-v1-sync")
    page.get_by_label("Message").fill("hello")
    page.keyboard.press("Enter")
    while not held:  # the route's handler runs as Playwright takes its next event
        page.wait_for_timeout(20)
    assert page.locator(".kc-role-user").count() == 0
    held[0].continue_()
    page.locator(".kc-role-user", has_text="hello").wait_for(timeout=10_000)
    page.locator(".kc-role-bot", has_text="Hello! Nice to meet you.").wait_for(timeout=15_000)
    assert page.get_by_label("Message").input_value() == ""
