"""Helpers of the widget's browser tests: opening the chat, talking to it, reading what the
bot received, its connection state, a host page on another origin, STS bodies seen."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from tests.waiting import wait_until

# Host pages by path, served by the host_origin fixture (tests/e2e/conftest.py).
PAGES: dict[str, str] = {}


def received_by_bot(base_url: str, identity: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{base_url}/emulator/_control/received", params={"user": identity})
    answer.raise_for_status()
    return list(answer.json()["received"])


def wait_until_received(
    base_url: str, identity: str, predicate: Any, timeout: float = 10
) -> list[dict[str, Any]]:
    def found() -> list[dict[str, Any]]:
        bodies = received_by_bot(base_url, identity)
        return bodies if any(predicate(body) for body in bodies) else []

    return wait_until(found, timeout, "the bot never received it")


def message_value(body: dict[str, Any]) -> Any:
    """What a V2 request carried (the demo bot speaks V2)."""
    return body["message"].get("val")


def received_text(base_url: str, identity: str, text: str, timeout: float = 10) -> dict[str, Any]:
    """The body in which the bot received this text (waiting for it)."""
    bodies = wait_until_received(base_url, identity, lambda b: message_value(b) == text, timeout)
    return next(b for b in bodies if message_value(b) == text)


def wait_for_welcome(page: Any) -> None:
    """Wait for the bot's first message in a page (or a frame locator)."""
    page.locator(".kc-role-bot").first.wait_for(timeout=10_000)


def wait_for_bot(page: Any, text: str) -> None:
    """Wait for a bot message holding this text."""
    page.locator(".kc-role-bot", has_text=text).wait_for(timeout=10_000)


def goto_chat(page: Any, url: str) -> None:
    """Load the chat at this address and wait for the bot's welcome."""
    page.goto(url)
    wait_for_welcome(page)


def open_widget(new_context: Callable[..., Any], url: str, path: str = "/", **options: Any) -> Any:
    """A page, in a new context with these options, on the chat at url + path, welcomed."""
    page = new_context(**options).new_page()
    goto_chat(page, url + path)
    return page


def open_chat(new_context: Callable[..., Any], url: str) -> tuple[Any, str]:
    """The demo chat in a new context, welcomed, and the identity the widget made itself."""
    page = open_widget(new_context, url)
    identity = page.evaluate("JSON.parse(localStorage.getItem('kore-chat:demo:browser')).identity")
    return page, identity


def say(page: Any, text: str) -> None:
    """Type a message in the chat (a page or the embed's frame locator) and press Enter."""
    box = page.get_by_label("Message")
    box.fill(text)
    box.press("Enter")


def launcher(page: Any) -> Any:
    """The embed's launcher button on the host page."""
    return page.locator("button[aria-controls='kore-chat-frame']")


def send(page: Any, text: str) -> None:
    """Say this, then wait until its bubble is the server's stored message."""
    say(page, text)
    page.locator(".kc-role-user[data-kc-id]", has_text=text).wait_for()


def open_embedded_chat(page: Any) -> Any:
    """Open the embed's panel from its launcher; the chat's frame, welcomed."""
    launcher(page).click()
    chat = page.frame_locator("iframe")
    wait_for_welcome(chat)
    return chat


def state(page: Any) -> str:
    return str(page.locator("[data-kc-chat]").get_attribute("data-kc-state"))


def wait_for_state(page: Any, wanted: str, timeout: float = 10_000) -> None:
    page.locator(f'[data-kc-chat][data-kc-state="{wanted}"]').wait_for(
        state="attached", timeout=timeout
    )


def host_page(relay: str, **attributes: str) -> str:
    attrs = " ".join(
        f'data-{name.replace("_", "-")}="{value}"' for name, value in attributes.items()
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>'
        "<body><h1>A shop that embeds the chat</h1>"
        f'<script src="{relay}/static/webclient/embed.js" data-bot="demo" {attrs}></script>'
        "</body></html>"
    )


def open_host(context: Any, host: str, relay: str, **attributes: str) -> Any:
    """A page of the host origin that embeds the widget with these snippet attributes."""
    path = f"/shop/{len(PAGES)}"
    PAGES[path] = host_page(relay, **attributes)
    page = context.new_page()
    page.goto(host + path)
    return page


def record_sts(context: Any) -> list[dict[str, Any]]:
    """The bodies of every token request the context makes (filled as they happen)."""
    bodies: list[dict[str, Any]] = []

    def seen(request: Any) -> None:
        if request.url.endswith("/api/v1/sts") and request.method == "POST":
            bodies.append(json.loads(request.post_data or "{}"))

    context.on("request", seen)
    return bodies


def stored_keys(page: Any) -> list[str]:
    return list(page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('kore-chat:'))"))


def fill_and_submit_the_demo_form(page: Any) -> None:
    """Fill every required field of the demo bot's loan form, then submit it."""
    form = page.locator("form[data-kc-form]").last
    form.wait_for(timeout=10_000)
    values = {
        "email": "ann@example.com",
        "date": "1990-01-01",
        "number": "5000",
        "tel": "+15551234",
    }
    for field in form.locator("input[required], select[required], textarea[required]").all():
        kind = field.evaluate("e => e.type || e.tagName.toLowerCase()")
        if kind.startswith("select"):
            field.select_option(index=1)
        elif kind in ("radio", "checkbox"):
            field.check()
        elif kind != "range":
            field.fill(values.get(kind, "1234"))
    form.locator("button[type=submit]").first.click()
    page.locator(".kc-role-user .kc-form-summary").wait_for(timeout=10_000)
