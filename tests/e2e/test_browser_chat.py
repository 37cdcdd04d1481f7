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
