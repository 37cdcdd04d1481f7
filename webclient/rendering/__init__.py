"""Server-side rendering of what bots and users send, done once when a message is stored.

`render_bot_item` takes one normalised bot message (a plain string or a Kore message object,
see webclient/kore/payloads.py) and `render_user_input` the body a user sent; both return the
message kind, a plain-text fallback and safe HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.html import escape, linebreaks


@dataclass(frozen=True)
class Rendered:
    kind: str
    text: str
    html: str


def render_bot_item(item: Any) -> Rendered:
    if isinstance(item, str):
        return Rendered("text", item, linebreaks(escape(item)))
    text = str(item.get("text") or item.get("payload", {}).get("text") or "")
    return Rendered("template", text, linebreaks(escape(text)))


def render_user_input(body: dict[str, Any]) -> Rendered:
    if "text" in body:
        return Rendered("text", body["text"], linebreaks(escape(body["text"])))
    if "postback" in body:
        title = body["postback"].get("title") or body["postback"]["payload"]
        return Rendered("text", title, linebreaks(escape(title)))
    if "formData" in body:
        return Rendered("form", "Form submitted", "<p>Form submitted</p>")
    return Rendered("event", body.get("event", ""), "")
