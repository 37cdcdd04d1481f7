"""What a newcomer meets in the widget's first hour, in Chromium: a refused embed, media,
carousels, dark charts, the focus ring, refused files, grouped times, plural labels, the
launcher, tooltips, the rate limit, the transcript and an operator's retry.

Set SCREENSHOT_DIR to keep the screenshots (docs/screenshots/ holds the ones in the docs).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.widget import (
    PAGES,
    goto_chat,
    launcher,
    open_chat,
    open_embedded_chat,
    open_host,
    say,
    send,
    wait_for_bot,
)
from tests.liveserver import LiveServer
from tests.relay_helpers import emulator_record, fail_next
from webclient.theming import contrast_ratio, focus_colors

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-first-hour"
BRAND = "#0f766e"
# Few messages per identity and window, so that a quick typist meets the limit.
SENDS_PER_WINDOW = 4
SEED = f"""
from django.contrib.auth import get_user_model
from webclient.models import Bot
demo = Bot.objects.get(slug="demo")
demo.theme_color = "{BRAND}"
demo.save()
shop = Bot.objects.get(slug="demo")
shop.pk = None
shop.slug = "live-shop"
shop.name = "Live shop"
shop.upstream_url = "https://bots.kore.ai/chatbot/v2/webhook/st-live-shop"
shop.allowed_origins = "https://www.shop.example"
shop.save()
get_user_model().objects.create_superuser("root", "root@example.com", "{PASSWORD}")
print("seeded")
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A development relay (DEBUG) whose demo bot is teal, a bot on a real upstream that
    allows only https://www.shop.example, an operator, and a tight send limit."""
    live = LiveServer(
        tmp_path_factory.mktemp("first-hour") / "db.sqlite3",
        env={"RATELIMIT_SEND_PER_IDENTITY": str(SENDS_PER_WINDOW), "RATELIMIT_WINDOW": "6"},
    )
    live.migrate()
    assert live.shell(SEED) == "seeded"
    live.start()
    yield live
    live.stop(kill=True)


def keep(page: Any, name: str, tmp_path: Path, **options: Any) -> None:
    directory = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    page.screenshot(path=str(directory / name), **options)


def rgb(css: str) -> str:
    """#rrggbb of a computed `rgb(r, g, b)`."""
    r, g, b = (int(float(v)) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def identity_of(page: Any) -> str:
    return str(page.evaluate("JSON.parse(localStorage.getItem('kore-chat:demo:browser')).identity"))


def bot_id_of(server: LiveServer, identity: str) -> str:
    return str(emulator_record(server.url, identity)["requests"][0]["bot"])


def admin(new_context: Any, server: LiveServer) -> Any:
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{server.url}/admin/")
    return page


def fail_one_message(page: Any, server: LiveServer, text: str) -> Any:
    """Send `text` while the platform refuses it (401): its bubble, offering a Retry."""
    fail_next(server.url, bot_id_of(server, identity_of(page)), 401)
    send(page, text)
    bubble = page.locator(".kc-role-user", has_text=text)
    bubble.get_by_role("button", name="Retry").wait_for(timeout=15_000)
    return bubble


# -- a refused embed --------------------------------------------------------------------


def test_a_page_the_bot_does_not_allow_shows_why_in_the_panel_and_in_the_console(
    new_context: Any, server: LiveServer, host_origin: str, tmp_path: Path
) -> None:
    context = new_context(viewport={"width": 1280, "height": 800})
    path = f"/refused/{uuid.uuid4()}"
    PAGES[path] = (
        "<!doctype html><html lang='en'><head><title>Shop</title></head><body>"
        "<h1>A shop going live</h1>"
        f'<script src="{server.url}/static/webclient/embed.js" data-bot="live-shop"></script>'
        "</body></html>"
    )
    page = context.new_page()
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(host_origin + path)
    launcher(page).click()
    panel = page.frame_locator("iframe")
    reason = panel.get_by_role("alert")
    reason.wait_for(timeout=10_000)
    expected = f'This site ({host_origin}) is not allowed to show bot "live-shop"'
    assert expected in reason.inner_text()
    while not any(w.startswith("kore-chat: " + expected) for w in warnings):
        page.wait_for_event("console", timeout=10_000)
    keep(page, "refused-embed.png", tmp_path)
    # Its close button closes the panel like the chat's.
    panel.get_by_role("button", name="Close chat").click()
    page.locator("iframe").wait_for(state="hidden")


def test_an_unknown_bot_in_the_snippet_is_named_in_the_panel(
    new_context: Any, server: LiveServer, host_origin: str
) -> None:
    path = f"/unknown/{uuid.uuid4()}"
    PAGES[path] = (
        "<!doctype html><html lang='en'><body>"
        f'<script src="{server.url}/static/webclient/embed.js" data-bot="lve-shop"></script>'
        "</body></html>"
    )
    page = new_context().new_page()
    page.goto(host_origin + path)
    launcher(page).click()
    reason = page.frame_locator("iframe").get_by_role("alert")
    reason.wait_for(timeout=10_000)
    assert 'There is no bot "lve-shop" on this server: check data-bot.' in reason.inner_text()


# -- media, carousels, charts, focus -----------------------------------------------------


def test_the_audio_player_is_wide_enough_to_use_in_the_chat_and_the_admin_transcript(
    new_context: Any, server: LiveServer, tmp_path: Path
) -> None:
    page, identity = open_chat(new_context, server.url)
    say(page, "show audio")
    player = page.locator(".kc-role-bot audio")
    player.wait_for(timeout=10_000)
    assert player.bounding_box()["width"] >= 250
    assert player.bounding_box()["height"] >= 30
    keep(page, "audio.png", tmp_path)
    conversation = server.shell(
        "from webclient.models import Conversation;"
        f"print(Conversation.objects.get(identity='{identity}').pk)"
    )
    operator = admin(new_context, server)
    operator.goto(f"{server.url}/admin/webclient/conversation/{conversation}/transcript/")
    framed = operator.frame_locator("iframe.kc-admin-frame").locator("audio")
    framed.wait_for()
    assert framed.bounding_box()["width"] >= 250


def test_a_carousel_on_a_desktop_has_arrows_that_work_by_mouse_and_keyboard(
    new_context: Any, server: LiveServer, tmp_path: Path
) -> None:
    page = new_context(viewport={"width": 1280, "height": 800}).new_page()
    goto_chat(page, server.url + "/")
    say(page, "show carousel")
    carousel = page.locator(".kc-role-bot .kc-carousel")
    carousel.wait_for(timeout=10_000)
    previous = page.get_by_role("button", name="Previous cards")
    following = page.get_by_role("button", name="Next cards")
    following.wait_for()
    assert previous.is_hidden()
    assert carousel.evaluate("c => c.scrollWidth > c.clientWidth")
    keep(page, "carousel-desktop.png", tmp_path)
    following.click()
    # One card further: here, the end of the row, where the next arrow goes away.
    page.wait_for_function(
        "() => { const c = document.querySelector('.kc-role-bot .kc-carousel');"
        " return c.scrollLeft >= c.scrollWidth - c.clientWidth - 1; }"
    )
    previous.wait_for()
    following.wait_for(state="hidden")
    # By keyboard: the arrow is a button in the tab order; Enter moves back.
    previous.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('.kc-role-bot .kc-carousel').scrollLeft === 0"
    )
    previous.wait_for(state="hidden")
    assert following.is_visible()


def test_chart_axis_labels_read_well_in_dark_mode(
    new_context: Any, server: LiveServer, tmp_path: Path
) -> None:
    page = new_context(color_scheme="dark", viewport={"width": 900, "height": 800}).new_page()
    goto_chat(page, server.url + "/")
    say(page, "show barchart")
    label = page.locator(".kc-role-bot .kc-axes text").first
    label.wait_for(timeout=10_000)
    fill = rgb(label.evaluate("t => getComputedStyle(t).fill"))
    bubble = rgb(label.evaluate("t => getComputedStyle(t.closest('.kc-bubble')).backgroundColor"))
    assert contrast_ratio(fill, bubble) >= 4.5, (fill, bubble)
    page.locator(".kc-role-bot .kc-tpl-chart").scroll_into_view_if_needed()
    keep(page, "dark-charts.png", tmp_path)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_focus_ring_is_the_brand_colour_standing_out_3_to_1(
    new_context: Any, server: LiveServer, scheme: str
) -> None:
    page = new_context(color_scheme=scheme).new_page()
    page.goto(server.url + "/")
    page.get_by_label("Message").focus()
    page.keyboard.press("Tab")
    send_button = page.get_by_role("button", name="Send")
    assert send_button.evaluate("b => b === document.activeElement")
    ring = rgb(send_button.evaluate("b => getComputedStyle(b).outlineColor"))
    light, dark = focus_colors(BRAND)
    assert ring == (light if scheme == "light" else dark)
    page_background = rgb(page.evaluate("getComputedStyle(document.body).backgroundColor"))
    assert contrast_ratio(ring, page_background) >= 3


# -- attachments ---------------------------------------------------------------------


def test_a_refused_file_shows_as_an_error_naming_the_accepted_types(
    new_context: Any, server: LiveServer, tmp_path: Path
) -> None:
    page, _ = open_chat(new_context, server.url)
    page.set_input_files(
        "[data-kc-file]",
        files=[{"name": "setup.exe", "mimeType": "image/png", "buffer": b"MZ\x90\x00\x00\x01"}],
    )
    refusal = page.locator(".kc-attachment-error[role='alert']")
    refusal.wait_for()
    text = refusal.inner_text()
    assert "setup.exe can't be attached" in text
    assert "PNG image" in text and "PDF document" in text
    assert "image/png" not in text and "application/pdf" not in text
    # Drawn in the error colour (chat.css --kc-error, light), not as a chip ready to go.
    assert rgb(refusal.evaluate("c => getComputedStyle(c).borderTopColor")) == "#b91c1c"
    keep(page, "refused-attachment.png", tmp_path)


def test_a_file_the_user_sent_shows_with_a_file_icon(new_context: Any, server: LiveServer) -> None:
    page, _ = open_chat(new_context, server.url)
    page.set_input_files(
        "[data-kc-file]",
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"Order 42\n"}],
    )
    page.locator(".kc-attachment[data-kc-attachment]").wait_for()
    page.get_by_label("Message").press("Enter")
    link = page.locator(".kc-role-user[data-kc-id] a.kc-file", has_text="notes.txt")
    link.wait_for(timeout=10_000)
    assert link.locator("svg.kc-file-icon").is_visible()


# -- times, labels, launcher, tooltips ---------------------------------------------------


def test_times_show_once_under_each_group_of_messages(new_context: Any, server: LiveServer) -> None:
    page, _ = open_chat(new_context, server.url)
    say(page, "slow 1")
    wait_for_bot(page, "Done after 1 s.")
    group = [
        page.locator(".kc-role-bot", has_text=text)
        for text in ("Working on it", "Halfway there", "Done after 1 s.")
    ]
    shown = [message.locator("time.kc-time").is_visible() for message in group]
    assert shown == [False, False, True]
    assert page.locator(".kc-role-user", has_text="slow 1").locator("time").is_visible()


def test_the_unread_count_on_the_launcher_uses_plural_forms_in_english_and_arabic(
    new_context: Any, server: LiveServer, host_origin: str
) -> None:
    for lang, one, two in (
        ("en", "Open chat (1 unread message)", "Open chat (2 unread messages)"),
        ("ar", "فتح المحادثة (رسالة واحدة غير مقروءة)", "فتح المحادثة (رسالتان غير مقروءتين)"),
    ):
        page = open_host(new_context(), host_origin, server.url, lang=lang)
        chat = open_embedded_chat(page)
        page.keyboard.press("Escape")
        page.locator("iframe").wait_for(state="hidden")
        frame = page.locator("iframe").element_handle().content_frame()
        frame.evaluate("KoreChat.send({text: 'hi'})")
        page.get_by_role("button", name=one, exact=True).wait_for(timeout=10_000)
        frame.evaluate("KoreChat.send({text: 'hi'})")
        page.get_by_role("button", name=two, exact=True).wait_for(timeout=10_000)
        assert chat.locator(".kc-role-bot").count() == 3


def test_the_launcher_becomes_a_close_button_while_the_panel_is_open(
    new_context: Any, server: LiveServer, host_origin: str
) -> None:
    page = open_host(new_context(viewport={"width": 1280, "height": 800}), host_origin, server.url)
    button = launcher(page)
    assert button.get_attribute("aria-label") == "Open chat"
    open_embedded_chat(page)
    assert button.get_attribute("aria-label") == "Close chat"
    assert button.get_attribute("data-kc-launcher") == "close"
    assert button.is_visible()
    button.click()
    page.locator("iframe").wait_for(state="hidden")
    assert button.get_attribute("data-kc-launcher") == "open"
    # A bot message that arrives once the panel is closed adds its unread count to the name.
    assert (button.get_attribute("aria-label") or "").startswith("Open chat")


def test_header_icons_show_their_names_on_hover_and_keyboard_focus(
    new_context: Any, server: LiveServer
) -> None:
    page, _ = open_chat(new_context, server.url)
    tip = page.locator("[data-kc-action=new] .kc-tip")
    assert tip.is_hidden()
    page.get_by_role("button", name="Download transcript").hover()
    hovered = page.locator("[data-kc-action=transcript] .kc-tip")
    hovered.wait_for()
    assert hovered.inner_text() == "Download transcript"
    assert tip.is_hidden()
    page.mouse.move(5, 400)
    hovered.wait_for(state="hidden")
    # By keyboard: the first stop on the page is New chat.
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("Tab")
    tip.wait_for()
    assert tip.inner_text() == "New chat"


# -- sending over the limit, transcript, operator's retry ---------------------------------


def test_a_message_over_the_rate_limit_says_it_will_be_sent_shortly_and_then_is(
    new_context: Any, server: LiveServer
) -> None:
    page, _ = open_chat(new_context, server.url)
    texts = [f"quick {n}" for n in range(SENDS_PER_WINDOW + 1)]
    for text in texts:
        say(page, text)
    waiting = page.locator(".kc-pending[data-kc-delivery=throttled]")
    waiting.wait_for(timeout=10_000)
    notice = waiting.locator(".kc-delivery").inner_text()
    assert notice.startswith("Too many messages at once: it will be sent shortly, at ")
    last = texts[-1]
    page.locator(".kc-role-user[data-kc-id]", has_text=last).wait_for(timeout=20_000)
    assert page.locator(".kc-pending").count() == 0


def test_the_downloaded_transcript_leaves_out_events_and_marks_undelivered_messages(
    new_context: Any, server: LiveServer
) -> None:
    page, _ = open_chat(new_context, server.url)
    fail_one_message(page, server, "hi there")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download transcript").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert "ON_CONNECT" not in "\n".join(lines)
    # The bot's welcome comes first, then what the user wrote, with its fate.
    assert [line.split("] ", 1)[1].split(":")[0] for line in lines] == ["Demo bot", "You"]
    assert lines[-1].endswith("] You: hi there (not delivered)")


def test_an_operators_retry_clears_the_not_delivered_mark_and_the_answer_follows(
    new_context: Any, server: LiveServer
) -> None:
    page, _ = open_chat(new_context, server.url)
    text = f"hi {uuid.uuid4().hex[:8]}"
    bubble = fail_one_message(page, server, text)
    operator = admin(new_context, server)
    operator.goto(f"{server.url}/admin/webclient/message/?status__exact=failed&q={text}")
    operator.locator("input[name=_selected_action]").check()
    operator.select_option("select[name=action]", "retry")
    operator.get_by_role("button", name="Go").click()
    operator.get_by_text("1 message(s) sent to the bot again.").wait_for()
    bubble.locator(".kc-delivery", has_text="Sent again by an operator.").wait_for(timeout=10_000)
    assert bubble.get_by_role("button", name="Retry").count() == 0
    wait_for_bot(page, "Hello! Nice to meet you.")
    # Its dashed failure outline is gone.
    outline = bubble.locator(".kc-bubble").evaluate("b => getComputedStyle(b).outlineStyle")
    assert outline == "none"
