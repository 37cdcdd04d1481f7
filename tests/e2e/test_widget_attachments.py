"""Attaching files in the widget: by button, drag-and-drop and paste; bad files refused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.widget import open_chat, received_text, say
from tests.widget.files import PNG

pytestmark = pytest.mark.browser

# Builds a File in the page from bytes, for drag-and-drop and paste.
DATA_TRANSFER = """([name, bytes]) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(bytes)], name, {type: "image/png"}));
    return transfer;
}"""


def sent_with_attachments(base_url: str, identity: str, text: str) -> list[dict[str, str]]:
    return list(received_text(base_url, identity, text)["message"]["attachments"])


def test_a_file_attached_with_the_button_reaches_the_bot_and_shows_a_thumbnail(
    new_context: Any, live_server_url: str
) -> None:
    page, identity = open_chat(new_context, live_server_url)
    page.get_by_role("button", name="Attach a file")  # the button opens this input
    page.set_input_files(
        "[data-kc-file]", files=[{"name": "receipt.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.locator(".kc-attachment[data-kc-attachment]", has_text="receipt.png").wait_for()
    say(page, "my receipt")
    thumbnail = page.locator(".kc-role-user[data-kc-id] img.kc-file-thumb[alt='receipt.png']")
    thumbnail.wait_for(timeout=10_000)
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth") == 1
    [attachment] = sent_with_attachments(live_server_url, identity, "my receipt")
    assert (attachment["fileName"], attachment["fileType"]) == ("receipt.png", "image")
    fetched = httpx.get(attachment["url"])
    assert fetched.status_code == 200
    assert fetched.content == PNG
    assert page.locator(".kc-attachment").count() == 0


def test_a_file_dropped_on_the_chat_or_pasted_into_the_message_box_is_attached(
    new_context: Any, live_server_url: str
) -> None:
    page, identity = open_chat(new_context, live_server_url)
    dropped = page.evaluate_handle(DATA_TRANSFER, ["dropped.png", list(PNG)])
    page.locator("[data-kc-scroll]").dispatch_event("drop", {"dataTransfer": dropped})
    page.locator(".kc-attachment[data-kc-attachment]", has_text="dropped.png").wait_for()
    pasted = page.evaluate_handle(DATA_TRANSFER, ["pasted.png", list(PNG)])
    page.get_by_label("Message").evaluate(
        "(box, data) => box.dispatchEvent(new ClipboardEvent('paste',"
        " {clipboardData: data, bubbles: true, cancelable: true}))",
        pasted,
    )
    page.locator(".kc-attachment[data-kc-attachment]", has_text="pasted.png").wait_for()
    # Without text, the names say what was sent.
    page.get_by_label("Message").press("Enter")
    page.locator(".kc-role-user[data-kc-id] img.kc-file-thumb").nth(1).wait_for(timeout=10_000)
    links = sent_with_attachments(live_server_url, identity, "dropped.png, pasted.png")
    assert len(links) == 2


def test_a_bad_file_is_refused_in_the_composer_and_nothing_is_sent(
    new_context: Any, live_server_url: str
) -> None:
    page, _ = open_chat(new_context, live_server_url)
    page.set_input_files(
        "[data-kc-file]",
        files=[
            {"name": "photo.png", "mimeType": "image/png", "buffer": b"MZ\x90\x00not an image\x00"}
        ],
    )
    refusal = page.locator(".kc-attachment-error[role='alert']")
    refusal.wait_for()
    assert "not accepted" in refusal.inner_text()
    page.get_by_label("Message").press("Enter")
    page.wait_for_timeout(1000)
    assert page.locator(".kc-role-user").count() == 0
    refusal.get_by_role("button", name="Remove photo.png").click()
    assert page.locator(".kc-attachment").count() == 0
