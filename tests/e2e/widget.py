"""Helpers of the widget's browser tests: a host page on another origin, STS bodies seen."""

from __future__ import annotations

import json
from typing import Any

# Host pages by path, served by the host_origin fixture (tests/e2e/conftest.py).
PAGES: dict[str, str] = {}


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
