"""Server-side rendering of what bots and users send, done once when a message is stored.

The pieces are in `webclient.rendering` (templates, text) and `webclient.forms` (Digital
Forms); this module picks the piece for each message.

`render_bot_item` takes one normalised bot message (a plain string or a Kore message object,
see webclient/kore/payloads.py) and `render_user_input` the body a user sent; both return the
message kind, a plain-text fallback and safe HTML. Neither raises: whatever a bot sends,
the transcript shows something readable and the raw payload stays in `Message.data`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils.html import escape

from webclient import forms
from webclient.rendering import templates
from webclient.rendering.coerce import mapping, text, values
from webclient.rendering.sanitize import safe_link, safe_media
from webclient.rendering.text import format_kore_text, plain_text

logger = logging.getLogger(__name__)

MEDIA_TYPES = frozenset({"image", "video", "audio", "link"})
FALLBACK = "This message can't be displayed."
# A bot answer is never legitimately a list of lists; bounded so junk cannot recurse.
MAX_NESTING = 3


@dataclass(frozen=True)
class Rendered:
    kind: str  # a webclient.models.Message.Kind value
    text: str  # plain-text fallback (screen readers, notifications, search)
    html: str  # safe HTML fragment, inserted as-is by the widget


def _text(value: str) -> Rendered:
    html = format_kore_text(value)
    return Rendered("text", plain_text(value), f'<div class="kc-text">{html}</div>' if html else "")


def _fallback() -> Rendered:
    return Rendered("text", FALLBACK, f'<p class="kc-text kc-unsupported">{escape(FALLBACK)}</p>')


def _media(kind: str, payload: dict[str, Any]) -> Rendered:
    check = safe_link if kind == "link" else safe_media
    url = check(payload.get("url"))
    caption = text(payload.get("text") or payload.get("caption"))
    title = text(payload.get("title") or payload.get("name"), 300)
    html = render_to_string(
        "webclient/render/media.html",
        {
            "kind": kind,
            "url": url,
            "alt": plain_text(caption) or title,
            "title": title,
            "caption": format_kore_text(caption),
        },
    )
    return Rendered("media", plain_text(caption) or title or f"[{kind}] {url or ''}".strip(), html)


def _message(payload: dict[str, Any]) -> Rendered:
    """Kore's `{"type": "message", "payload": {"text", "audioUrl"|"videoUrl"}}`."""
    for key, kind in (("videoUrl", "video"), ("audioUrl", "audio")):
        if payload.get(key):
            return _media(kind, {"url": payload.get(key), "text": payload.get("text")})
    return _text(text(payload.get("text")))


def _error(payload: dict[str, Any]) -> Rendered:
    words = text(payload.get("text")) or "Something went wrong."
    html = render_to_string("webclient/render/error.html", {"text": format_kore_text(words)})
    return Rendered("error", plain_text(words), html)


def _form(form: Any) -> Rendered:
    words, html = forms.render_form(form)
    return Rendered("form", words, html)


def _render_dict(item: dict[str, Any], depth: int) -> Rendered:
    kind = text(item.get("type"), 50).lower()
    payload = mapping(item.get("payload"))
    if isinstance(item.get("form"), dict) or isinstance(item.get("formDef"), dict):
        return _form(item)
    if kind == "template" or (not kind and "template_type" in payload):
        template_kind, words, html = templates.render_template(payload)
        return Rendered(template_kind, words, html)
    if kind in MEDIA_TYPES:
        return _media(kind, payload)
    if kind == "error":
        return _error(payload)
    if kind == "message":
        return _message(payload)
    if "template_type" in item:
        template_kind, words, html = templates.render_template(item)
        return Rendered(template_kind, words, html)
    inner = item.get("text", item.get("val"))
    if isinstance(inner, str):
        return _text(inner)
    if isinstance(inner, dict | list):
        return _render(inner, depth + 1)
    if isinstance(payload.get("text"), str):
        return _text(payload["text"])
    return _fallback()


def _render(item: Any, depth: int = 0) -> Rendered:
    if depth > MAX_NESTING:
        return _fallback()
    if isinstance(item, str):
        return _text(item)
    if isinstance(item, int | float) and not isinstance(item, bool):
        return _text(text(item))
    if isinstance(item, dict):
        return _render_dict(item, depth)
    if isinstance(item, list) and item:
        parts = [_render(entry, depth + 1) for entry in values(item, 20)]
        return Rendered(
            parts[0].kind,
            "\n".join(p.text for p in parts if p.text),
            "".join(p.html for p in parts),
        )
    return _fallback()


def render_bot_item(item: Any) -> Rendered:
    try:
        return _render(item)
    except Exception:
        logger.exception("rendering a bot message failed; showing a fallback")
        return _fallback()


def render_user_input(body: Mapping[str, Any]) -> Rendered:
    try:
        return _render_user_input(mapping(body))
    except Exception:
        logger.exception("rendering a user message failed; showing a fallback")
        return _fallback()


def _render_user_input(body: dict[str, Any]) -> Rendered:
    if isinstance(body.get("text"), str):
        words = body["text"]
        return Rendered(
            "text", words, f'<div class="kc-text">{format_kore_text(words, allow_html=False)}</div>'
        )
    if isinstance(body.get("postback"), dict):
        postback = body["postback"]
        title = text(postback.get("title")) or text(postback.get("payload"))
        return Rendered("text", title, f'<div class="kc-text">{escape(title)}</div>')
    if isinstance(body.get("formData"), dict):
        words = "Form submitted"
        html = render_to_string("webclient/render/user_form_data.html", {"text": words})
        return Rendered("form", words, html)
    return Rendered("event", text(body.get("event"), 50), "")
