"""How the widget looks and behaves on screen: messages, the embedded panel, phones."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.widget import (
    launcher,
    open_chat,
    open_embedded_chat,
    open_host,
    open_widget,
    say,
    send,
    wait_for_bot,
    wait_for_welcome,
)

pytestmark = pytest.mark.browser


def test_bot_messages_have_an_avatar_and_a_relative_time_with_the_absolute_one_on_hover(
    new_context: Any, live_server_url: str
) -> None:
    page, _ = open_chat(new_context, live_server_url)
    welcome = page.locator(".kc-role-bot").first
    assert welcome.locator(".kc-avatar").get_attribute("data-initial") == "D"
    stamp = welcome.locator("time.kc-time")
    assert stamp.inner_text() == "now"
    assert stamp.get_attribute("datetime")
    assert "2026" in (stamp.get_attribute("title") or "") or stamp.get_attribute("title")
    assert page.locator("h1.kc-title").inner_text() == "Demo bot"


def test_consecutive_bot_messages_form_one_group_with_one_avatar(
    new_context: Any, live_server_url: str
) -> None:
    page, _ = open_chat(new_context, live_server_url)
    say(page, "slow 1")
    wait_for_bot(page, "Done after 1 s.")
    working = page.locator(".kc-role-bot", has_text="Working on it")
    halfway = page.locator(".kc-role-bot", has_text="Halfway there")
    assert "kc-first" in (working.get_attribute("class") or "")
    assert "kc-first" not in (halfway.get_attribute("class") or "")
    assert halfway.locator(".kc-avatar").evaluate("a => getComputedStyle(a).visibility") == (
        "hidden"
    )


def test_the_typing_dots_animate_never_hide_the_newest_message_and_respect_reduced_motion(
    new_context: Any, live_server_url: str
) -> None:
    for motion, animation in (("no-preference", "kc-bounce"), ("reduce", "none")):
        page = open_widget(
            new_context,
            live_server_url,
            reduced_motion=motion,
            viewport={"width": 400, "height": 500},
        )
        say(page, "slow 4")
        wait_for_bot(page, "Halfway there")
        dots = page.locator(".kc-typing")
        dots.wait_for()
        assert (
            page.locator(".kc-dots span").first.evaluate("d => getComputedStyle(d).animationName")
            == animation
        )
        newest = page.locator(".kc-msg").last.bounding_box()
        typing = dots.bounding_box()
        scroller = page.locator("[data-kc-scroll]").bounding_box()
        assert newest["y"] + newest["height"] <= typing["y"]
        assert typing["y"] + typing["height"] <= scroller["y"] + scroller["height"] + 1


def test_a_new_messages_button_appears_when_scrolled_up_and_takes_the_user_down(
    new_context: Any, live_server_url: str
) -> None:
    page = open_widget(new_context, live_server_url, viewport={"width": 400, "height": 420})
    say(page, "show table")
    page.locator(".kc-table").first.wait_for(timeout=10_000)
    say(page, "slow 3")
    wait_for_bot(page, "Working on it")
    page.locator("[data-kc-scroll]").evaluate("s => { s.scrollTop = 0; }")
    jump = page.get_by_role("button", name="New messages")
    jump.wait_for(timeout=10_000)
    jump.click()
    assert page.locator("[data-kc-scroll]").evaluate(
        "s => s.scrollHeight - s.scrollTop - s.clientHeight < 2"
    )
    assert jump.is_hidden()


def test_a_320_px_phone_has_no_sideways_scroll_and_table_dates_stay_whole(
    new_context: Any, live_server_url: str
) -> None:
    page = open_widget(new_context, live_server_url, viewport={"width": 320, "height": 640})
    for command in ("show table", "show carousel", "show all"):
        send(page, command)
    page.locator(".kc-carousel").first.wait_for(timeout=10_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert page.locator("[data-kc-scroll]").evaluate("s => s.scrollWidth <= s.clientWidth")
    date = page.locator(".kc-table :is(td, th)", has_text="2026-11-18").first
    lines = date.evaluate(
        "td => { const r = document.createRange(); r.selectNodeContents(td);"
        " return new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top))).size; }"
    )
    assert lines == 1


def test_the_launcher_is_a_labelled_round_button_that_opens_and_closes_the_panel(
    new_context: Any, live_server_url: str, host_origin: str
) -> None:
    page = open_host(new_context(), host_origin, live_server_url)
    page.get_by_role("button", name="Open chat").wait_for()
    button = launcher(page)
    assert button.evaluate("b => getComputedStyle(b).borderRadius") == "50%"
    assert button.get_attribute("aria-expanded") == "false"
    button.click()
    chat = page.frame_locator("iframe")
    wait_for_welcome(chat)
    assert button.get_attribute("aria-expanded") == "true"
    # Escape in the panel closes it and gives the focus back to the launcher.
    chat.get_by_label("Message").press("Escape")
    page.locator("iframe").wait_for(state="hidden")
    assert page.evaluate("document.activeElement.getAttribute('aria-controls')") == (
        "kore-chat-frame"
    )
    button.click()
    chat.get_by_role("button", name="Close chat").click()
    page.locator("iframe").wait_for(state="hidden")
    assert button.get_attribute("aria-expanded") == "false"


def test_a_minimised_panel_counts_unread_messages_on_the_launcher(
    new_context: Any, live_server_url: str, host_origin: str
) -> None:
    page = open_host(new_context(), host_origin, live_server_url)
    chat = open_embedded_chat(page)
    say(chat, "slow 2")
    wait_for_bot(chat, "Working on it")
    chat.get_by_role("button", name="Minimise").click()
    page.locator("iframe").wait_for(state="hidden")
    page.get_by_role("button", name="Open chat (2 unread messages)").wait_for(timeout=10_000)
    assert launcher(page).inner_text().strip() == "2"
    launcher(page).click()
    # Open, the launcher closes the panel, and the count is gone.
    page.get_by_role("button", name="Close chat", exact=True).wait_for()
    launcher(page).locator("span").wait_for(state="hidden")
    # Minimised again with nothing new, the launcher shows no stale count.
    launcher(page).click()
    page.locator("iframe").wait_for(state="hidden")
    assert launcher(page).get_attribute("aria-label") == "Open chat"
    assert launcher(page).locator("span").is_hidden()


def test_on_a_phone_the_embedded_panel_fills_the_screen(
    new_context: Any, live_server_url: str, host_origin: str
) -> None:
    page = open_host(
        new_context(viewport={"width": 390, "height": 700}), host_origin, live_server_url
    )
    open_embedded_chat(page)
    box = page.locator("iframe").bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 700)
    assert launcher(page).is_hidden()
