"""Templates and Digital Forms through the whole product: bot → relay → browser → bot."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.widget import message_value, open_chat, received_by_bot, say, wait_until_received

pytestmark = pytest.mark.browser

FORM = "fct-5a0cf4f1-2b8e-4d55-9d3c-0000000000"


def test_a_postback_button_sends_its_payload_and_shows_its_title(
    new_context: Any, live_server_url: str
) -> None:
    page, identity = open_chat(new_context, live_server_url)
    say(page, "show button")
    button = page.locator("button[data-kc-postback]").first
    button.wait_for(timeout=10_000)
    title = button.get_attribute("data-kc-title")
    payload = button.get_attribute("data-kc-payload")
    button.click()
    page.locator(".kc-role-user", has_text=title).wait_for(timeout=10_000)
    wait_until_received(live_server_url, identity, lambda b: message_value(b) == payload)


def test_a_quick_reply_is_sent_once_and_disappears(new_context: Any, live_server_url: str) -> None:
    page, identity = open_chat(new_context, live_server_url)
    say(page, "show quick_replies")
    reply = page.locator("[data-kc-once] button[data-kc-postback]").first
    reply.wait_for(timeout=10_000)
    payload = reply.get_attribute("data-kc-payload")
    reply.click()
    page.locator("[data-kc-once]").first.wait_for(state="detached", timeout=10_000)
    bodies = wait_until_received(live_server_url, identity, lambda b: message_value(b) == payload)
    assert [message_value(b) for b in bodies].count(payload) == 1
    page.reload()
    page.locator(".kc-role-user").last.wait_for(timeout=10_000)
    assert page.locator("[data-kc-once]").count() == 0


def test_a_form_shows_the_servers_validation_error_then_submits(
    new_context: Any, live_server_url: str
) -> None:
    page, identity = open_chat(new_context, live_server_url)
    say(page, "form")
    form = page.locator("form[data-kc-form]")
    form.wait_for(timeout=10_000)
    form.locator(f"[name='{FORM}04']").fill("jane@example.com")
    form.locator(f"[name='{FORM}06']").fill("1990-05-17")
    form.locator(f"[name='{FORM}10']").fill("12000")
    form.locator(f"[name='{FORM}12']").first.check()
    form.locator(f"[name='{FORM}13']").select_option(index=1)
    form.locator(f"[name='{FORM}18']").fill("4321")
    # Only the server knows this rule (no links in the notes).
    form.locator(f"[name='{FORM}16']").fill("see http://example.com")
    form.locator("[data-kc-form-submit]").click()
    error = form.locator(f"[data-kc-error-for='{FORM}16']")
    error.wait_for(state="visible", timeout=10_000)
    assert "links" in error.inner_text()
    assert form.locator(f"[name='{FORM}16']").get_attribute("aria-invalid") == "true"
    assert not any(
        b["message"].get("type") == "formData" for b in received_by_bot(live_server_url, identity)
    )

    form.locator(f"[name='{FORM}16']").fill("Self-employed since 2019.")
    form.locator("[data-kc-form-submit]").click()
    bodies = wait_until_received(
        live_server_url, identity, lambda b: b["message"].get("type") == "formData"
    )
    sent = next(b["message"]["val"] for b in bodies if b["message"].get("type") == "formData")
    inputs = {entry["componentId"]: entry["input"] for entry in sent["data"]}
    assert sent["formId"].startswith("frm-")
    assert inputs[f"{FORM}04"] == "jane@example.com"
    assert inputs[f"{FORM}24"]  # the submit button's entry
    page.locator(".kc-role-bot", has_text="Thanks").wait_for(timeout=10_000)

    # Submitted stays submitted, also after a reload.
    page.reload()
    page.locator("form[data-kc-form][data-kc-submitted='submitted']").wait_for(timeout=10_000)
