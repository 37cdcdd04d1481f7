"""The operator's pages in a real browser, on a real server: the transcript frame renders in
the widget's styles with no script, and the bot page's buttons reveal the POST_URL and check
the connection (to the server's own emulator).

Set SCREENSHOT_DIR to keep the screenshots (docs/screenshots/ holds the ones in the docs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.liveserver import ROOT, LiveServer

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-browser-tests"
SEED = f"""
from django.contrib.auth import get_user_model
from tests.ops.story import tell_story
from webclient.models import Bot
story = tell_story(Bot.objects.get(slug="demo"))
get_user_model().objects.create_superuser("root", "root@example.com", "{PASSWORD}")
print(story.conversation.pk, story.bot.pk)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, int, int]]:
    live = LiveServer(tmp_path_factory.mktemp("admin") / "db.sqlite3")
    live.migrate()
    seeded = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEED],
        cwd=ROOT,
        env={**live.env, "KORE_DISPATCHER": "false"},
        check=True,
        capture_output=True,
        text=True,
    )
    conversation_pk, bot_pk = map(int, seeded.stdout.split()[-2:])
    live.start()
    yield live, conversation_pk, bot_pk
    live.stop()


@pytest.fixture
def admin_page(browser: Any, server: tuple[LiveServer, int, int]) -> Iterator[Any]:
    live, _, _ = server
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.goto(f"{live.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live.url}/admin/")
    yield page
    context.close()


def keep(page: Any, name: str, tmp_path: Path) -> None:
    directory = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    page.screenshot(path=str(directory / name), full_page=True)


def test_the_transcript_renders_in_the_widget_styles_without_script(
    admin_page: Any, server: tuple[LiveServer, int, int], tmp_path: Path
) -> None:
    live, conversation_pk, _ = server
    errors: list[str] = []
    admin_page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    admin_page.goto(f"{live.url}/admin/webclient/conversation/{conversation_pk}/transcript/")
    frame = admin_page.frame_locator("iframe.kc-admin-frame")
    user_bubble = frame.locator(".kc-msg.kc-role-user .kc-bubble").first
    user_bubble.wait_for()
    # chat.css applied inside the sandboxed frame: the user's bubble has the widget's colour.
    background = user_bubble.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background not in ("", "rgba(0, 0, 0, 0)", "transparent")
    assert frame.locator(".kc-carousel, [class*=carousel]").count() >= 1
    assert frame.locator(".kc-form-summary").count() == 1
    assert "••••••" in frame.locator(".kc-form-summary").inner_text()
    assert "could not be reached" in frame.locator(".kc-meta-failure").inner_text()
    # No script runs in the frame: the sandbox blocks it before the CSP would.
    assert not any("Refused to load the stylesheet" in e for e in errors), errors
    keep(admin_page, "admin-transcript.png", tmp_path)
    # The frame's document alone, whole: every message down to the failure.
    admin_page.goto(f"{live.url}/admin/webclient/conversation/{conversation_pk}/transcript/frame/")
    keep(admin_page, "admin-transcript-frame.png", tmp_path)


def test_the_bot_page_reveals_the_post_url_and_checks_the_connection(
    admin_page: Any, server: tuple[LiveServer, int, int], tmp_path: Path
) -> None:
    live, _, bot_pk = server
    admin_page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    admin_page.goto(f"{live.url}/admin/webclient/bot/{bot_pk}/change/")
    post_url = admin_page.locator(".field-post_url [data-kc-url]")
    assert "••••••••" in post_url.inner_text()
    # "Check connection" comes first on the page, above the form's fields.
    check = admin_page.locator(".kc-admin-connection [data-kc-check]")
    slug_field = admin_page.locator("input[name=slug]")
    assert check.bounding_box()["y"] < slug_field.bounding_box()["y"]
    check.click()
    result = admin_page.locator("[data-kc-result]")
    admin_page.wait_for_function(
        "() => document.querySelector('[data-kc-result]').textContent.startsWith('Connected')"
    )
    assert "No data found" in result.inner_text()
    # The result is kept: the page shows it again when it is next opened.
    admin_page.reload()
    assert result.inner_text().startswith("Last check, ")
    assert "Connected" in result.inner_text()
    keep(admin_page, "admin-bot.png", tmp_path)
    admin_page.click(".field-post_url [data-kc-reveal]")
    admin_page.wait_for_function(
        "() => !document.querySelector('.field-post_url [data-kc-url]').textContent.includes('•')"
    )
    revealed = post_url.inner_text()
    assert revealed.startswith(f"{live.url}/hooks/kore/demo/") and revealed.endswith("/")
    admin_page.click(".field-post_url [data-kc-copy]")
    admin_page.wait_for_function("async () => (await navigator.clipboard.readText()).length > 0")
    assert admin_page.evaluate("navigator.clipboard.readText()") == revealed


def test_the_messages_list_is_newest_first_and_readable_at_1280_px(
    browser: Any, admin_page: Any, server: tuple[LiveServer, int, int], tmp_path: Path
) -> None:
    live, _, _ = server
    admin_page.set_viewport_size({"width": 1280, "height": 900})
    admin_page.goto(f"{live.url}/admin/webclient/message/")
    keep(admin_page, "admin-messages.png", tmp_path)
    ids = [
        int(t)
        for t in admin_page.locator(
            "#result_list td.field-id, #result_list th.field-id a"
        ).all_inner_texts()
    ]
    assert ids == sorted(ids, reverse=True) and len(ids) > 1
    # Nothing is cut: neither the page nor the list scrolls sideways (the list cuts what
    # overflows it), and the failure column ends inside the list.
    assert admin_page.evaluate("document.documentElement.scrollWidth") <= 1280
    results = admin_page.locator("#changelist .results")
    assert results.evaluate("e => e.scrollWidth <= e.clientWidth")
    failure = admin_page.locator("#result_list td.field-failure_shown").filter(has_text="reached")
    box, inside = failure.first.bounding_box(), results.bounding_box()
    assert box["x"] + box["width"] <= inside["x"] + inside["width"]
    # Text wraps at a readable width, not one word per line: at least 12em wide.
    font_size = failure.first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert box["width"] >= 12 * font_size


def test_the_transcript_sends_a_failed_message_again_with_one_button(
    admin_page: Any, server: tuple[LiveServer, int, int], tmp_path: Path
) -> None:
    live, conversation_pk, _ = server
    admin_page.goto(f"{live.url}/admin/webclient/conversation/{conversation_pk}/transcript/")
    keep(admin_page, "admin-transcript-failed.png", tmp_path)
    admin_page.click("[data-kc-retry]")
    admin_page.wait_for_url(
        f"{live.url}/admin/webclient/conversation/{conversation_pk}/transcript/"
    )
    assert "1 message(s) sent to the bot again." in admin_page.locator(".messagelist").inner_text()
    assert admin_page.locator(".kc-admin-retried").inner_text() == "Sent to the bot again."
    assert admin_page.locator("[data-kc-retry]").count() == 0
