"""Request bodies of both API versions, read into one shape for the demo bot.

Tolerant where the Web SDK is loose (it sends the V2-style `{"type":"event"}` message to V1
URLs too), strict where the protocol doc says "required".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

EVENT_KIND = "event"


class InvalidPayload(Exception):
    """Answer 400 "Invalid Request Payload"."""


@dataclass(frozen=True)
class Inbound:
    user_id: str
    kind: Literal["text", "event", "form"]
    text: str = ""
    form_data: dict[str, Any] | None = None
    new_session: bool = False


def parse(body: Any, version: int) -> Inbound:
    if not isinstance(body, dict):
        raise InvalidPayload("body is not a JSON object")
    sender = body.get("from")
    user_id = sender.get("id") if isinstance(sender, dict) else None
    if not isinstance(user_id, str) or not user_id:
        raise InvalidPayload("from.id is required")
    message = body.get("message")
    if not isinstance(message, dict):
        raise InvalidPayload("message is required")
    session = body.get("session")
    new_session = isinstance(session, dict) and session.get("new") is True
    kind, text, form_data = _v1_message(message) if version == 1 else _v2_message(message)
    return Inbound(user_id, kind, text, form_data, new_session)


def _v1_message(message: dict[str, Any]) -> tuple[Any, str, dict[str, Any] | None]:
    if isinstance(message.get("formData"), dict):
        return "form", "", _form_data(message["formData"])
    if message.get("type") == EVENT_KIND and isinstance(message.get("val"), str):
        return "event", message["val"], None
    if "text" not in message:
        raise InvalidPayload("message.text is required")
    return "text", _utterance(message["text"]), None


def _v2_message(message: dict[str, Any]) -> tuple[Any, str, dict[str, Any] | None]:
    kind = message.get("type")
    if "val" not in message:
        raise InvalidPayload("message.val is required")
    val = message["val"]
    if kind in ("text", "template"):
        return "text", _utterance(val), None
    if kind == EVENT_KIND and isinstance(val, str):
        return "event", val, None
    if kind == "formData" and isinstance(val, dict):
        return "form", "", _form_data(val)
    raise InvalidPayload("unknown message.type")


def _utterance(value: Any) -> str:
    """A text, or what a clicked postback carries (its payload, which the bot acts on)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("payload", "text", "title"):
            if isinstance(value.get(key), str):
                return value[key]
    raise InvalidPayload("message text is neither a string nor a postback")


def _form_data(value: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(value.get("formId"), str) or not isinstance(value.get("data"), list):
        raise InvalidPayload("formData needs formId and data")
    for entry in value["data"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("componentId"), str):
            raise InvalidPayload("formData.data items need a componentId")
    return value
