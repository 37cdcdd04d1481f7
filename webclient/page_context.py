"""Page context: the `customData` and `metaTags` an embedding page gives the widget.

The page is not trusted: only the keys the bot's admin listed (Bot.page_context_keys) pass,
with short scalar values, and the bot's own customData and metaTags win over the page's.
"""

from __future__ import annotations

from typing import Any

from webclient.models import Bot

FIELDS = ("customData", "metaTags")
MAX_VALUE_LENGTH = 200


def _scalar(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_VALUE_LENGTH
    return isinstance(value, bool | int | float)


def page_context_clean(bot: Bot, raw: Any) -> dict[str, dict[str, Any]]:
    """What of the page's context the bot accepts; {} when nothing."""
    if not isinstance(raw, dict):
        return {}
    allowed = bot.context_keys
    kept: dict[str, dict[str, Any]] = {}
    for field in FIELDS:
        values = raw.get(field)
        if not isinstance(values, dict):
            continue
        accepted = {k: v for k, v in values.items() if k in allowed and _scalar(v)}
        if accepted:
            kept[field] = accepted
    return kept


def upstream_context(bot: Bot, page: Any) -> dict[str, dict[str, Any]]:
    """customData and metaTags of a request: the page's accepted keys (the `pageContext` a
    message was stored with) under the bot's own."""
    given: dict[str, Any] = page if isinstance(page, dict) else {}
    merged = {
        "customData": {**given.get("customData", {}), **bot.custom_data},
        "metaTags": {**given.get("metaTags", {}), **bot.meta_tags},
    }
    return {field: values for field, values in merged.items() if values}
