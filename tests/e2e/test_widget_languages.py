"""Languages, right-to-left layout, colour schemes and the keyboard, in a real browser."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.widget import PAGES, open_embedded_chat, open_host, open_widget, send

pytestmark = pytest.mark.browser


def test_arabic_mirrors_the_layout_and_translates_the_widget(
    new_context: Any, live_server_url: str
) -> None:
    page = open_widget(
        new_context, live_server_url, "/?lang=ar", viewport={"width": 500, "height": 700}
    )
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.locator("[data-kc-connection]").inner_text().strip() == "متصل"
    page.get_by_label("الرسالة").fill("مرحبا")
    page.keyboard.press("Enter")
    mine = page.locator(".kc-role-user[data-kc-id] .kc-bubble", has_text="مرحبا")
    mine.wait_for()
    bot = page.locator(".kc-role-bot .kc-bubble").first.bounding_box()
    user = mine.bounding_box()
    assert bot and user
    # The user's messages sit on the left and the bot's on the right, mirrored.
    assert user["x"] < bot["x"]
    assert page.get_by_role("button", name="محادثة جديدة").is_visible()


def test_the_browser_language_applies_when_nothing_else_says(
    new_context: Any, live_server_url: str
) -> None:
    page = new_context(locale="ar-EG").new_page()
    page.goto(live_server_url + "/")
    assert page.evaluate("document.documentElement.lang") == "ar"


def test_the_embed_takes_data_lang_then_the_embedding_pages_lang(
    new_context: Any, live_server_url: str, host_origin: str
) -> None:
    page = open_host(new_context(locale="en-US"), host_origin, live_server_url, lang="ar")
    assert "lang=ar" in (page.locator("iframe").get_attribute("src") or "")
    PAGES["/shop/arabic"] = (
        '<!doctype html><html lang="ar-SA"><body>'
        f'<script src="{live_server_url}/static/webclient/embed.js" data-bot="demo"></script>'
        "</body></html>"
    )
    page.goto(host_origin + "/shop/arabic")
    chat = open_embedded_chat(page)
    assert chat.locator("html").get_attribute("dir") == "rtl"
    # Open, the launcher is the panel's close button, in Arabic too.
    assert page.get_by_role("button", name="إغلاق المحادثة").is_visible()


def test_dark_mode_follows_the_system_with_readable_colours(
    new_context: Any, live_server_url: str
) -> None:
    page = new_context(color_scheme="dark").new_page()
    page.goto(live_server_url + "/")
    welcome = page.locator(".kc-role-bot .kc-bubble").first
    welcome.wait_for(timeout=10_000)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 20, 23)"
    assert welcome.evaluate("b => getComputedStyle(b).color") == "rgb(236, 238, 241)"


def test_the_keyboard_order_is_header_tools_then_conversation_then_message_box(
    new_context: Any, live_server_url: str
) -> None:
    page = open_widget(new_context, live_server_url)
    order = []
    for _ in range(7):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate(
                "document.activeElement.getAttribute('aria-label') || document.activeElement.id"
            )
        )
    assert order == [
        "New chat",
        "Download transcript",
        "End chat",
        "kc-scroll",
        "Attach a file",
        "kc-input",
        "Send",
    ]
    send(page, "typed with keys")
