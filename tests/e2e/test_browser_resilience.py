"""The widget as people really use it: flaky networks, and keyboard only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.widget import open_chat, received_by_bot, say, wait_until_received

pytestmark = pytest.mark.browser


def test_a_message_typed_offline_is_sent_once_when_the_network_returns(
    new_context: Any, live_server_url: str
) -> None:
    page, identity = open_chat(new_context, live_server_url)
    page.context.set_offline(True)
    say(page, "sent while offline")
    page.locator("[data-kc-connection]", has_text="retry").wait_for(timeout=10_000)
    assert not any(
        b["message"].get("val") == "sent while offline"
        for b in received_by_bot(live_server_url, identity)
    )
    # A reload while offline must not lose it either: the outbox lives in localStorage.
    page.context.set_offline(False)
    page.reload()
    page.locator(".kc-role-bot", has_text="sent while offline").wait_for(timeout=15_000)
    bodies = received_by_bot(live_server_url, identity)
    assert [b["message"].get("val") for b in bodies].count("sent while offline") == 1
    assert page.locator(".kc-role-user", has_text="sent while offline").count() == 1


def test_the_long_poll_recovers_after_the_network_drops(
    new_context: Any, live_server_url: str
) -> None:
    page, identity = open_chat(new_context, live_server_url)
    page.context.set_offline(True)
    # The held poll is given up at once, not when its 25 s wait would have run out.
    page.locator("[data-kc-connection]", has_text="Offline").wait_for(timeout=5_000)
    page.context.set_offline(False)
    say(page, "back again")
    page.locator(".kc-role-bot", has_text="back again").wait_for(timeout=10_000)
    wait_until_received(
        live_server_url, identity, lambda b: b["message"].get("val") == "back again"
    )


def test_a_keyboard_user_can_chat_and_press_a_postback_button(
    new_context: Any, live_server_url: str
) -> None:
    page, identity = open_chat(new_context, live_server_url)
    message_box = page.get_by_label("Message")
    message_box.focus()
    page.keyboard.type("show button")
    page.keyboard.press("Enter")
    button = page.locator("button[data-kc-postback]").first
    button.wait_for(timeout=10_000)
    payload = button.get_attribute("data-kc-payload")
    # Tab from the message box backwards into the conversation until the button has focus.
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.hasAttribute('data-kc-postback')"):
            break
    focused = page.evaluate("document.activeElement.getAttribute('data-kc-payload')")
    assert focused is not None
    page.keyboard.press("Enter")
    wait_until_received(live_server_url, identity, lambda b: b["message"].get("val") == focused)
    assert payload
    assert page.locator("[data-kc-log]").get_attribute("role") == "log"
    assert page.locator("[data-kc-log]").get_attribute("aria-live") == "polite"
