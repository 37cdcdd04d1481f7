"""Request bodies of both API versions, read into one shape for the demo bot.

Checked as Kore's request tables say ("Adding WebHook as a channel", Request Parameters):
`message` and `from.id` required; V1 `message.text` required (V1 events are "Not
supported": Kore's Web SDK sends `{"type":"event"}` to V1 URLs anyway, and gets a 400);
V2 `message.type` one of text, template, event, formData, with a `val`; `attachments` an
array of objects, each `{"url"}` or `{"fileName", "fileType", "fileId"}`; with attachments a
V2 message is of type `text` and its `val` is not blank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

EVENT_KIND = "event"
# The V2 table: "If the type = event then the val must be ON_CONNECT", or SESSION_CLOSURE.
EVENTS = ("ON_CONNECT", "SESSION_CLOSURE")


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


def _attachments(message: dict[str, Any]) -> bool:
    """Whether the message has attachments; refuses any not in a documented shape."""
    if "attachments" not in message:
        return False
    files = message["attachments"]
    if not isinstance(files, list):
        raise InvalidPayload("attachments must be an array")
    for file in files:
        if not isinstance(file, dict):
            raise InvalidPayload("each attachment is an object")
        by_url = isinstance(file.get("url"), str) and file["url"].startswith(
            ("http://", "https://")
        )
        by_id = all(isinstance(file.get(key), str) for key in ("fileName", "fileType", "fileId"))
        if not (by_url or by_id):
            raise InvalidPayload('an attachment needs a "url", or fileName, fileType and fileId')
    return bool(files)


def _v1_message(message: dict[str, Any]) -> tuple[Any, str, dict[str, Any] | None]:
    _attachments(message)
    if isinstance(message.get("formData"), dict):
        return "form", "", _form_data(message["formData"])
    if "text" not in message:
        raise InvalidPayload("message.text is required (V1 supports no events)")
    return "text", _utterance(message["text"]), None


def _v2_message(message: dict[str, Any]) -> tuple[Any, str, dict[str, Any] | None]:
    kind = message.get("type")
    if "val" not in message:
        raise InvalidPayload("message.val is required")
    val = message["val"]
    if _attachments(message) and (kind != "text" or not isinstance(val, str) or not val.strip()):
        raise InvalidPayload("with attachments, type is text and val is not blank")
    if kind in ("text", "template"):
        return "text", _utterance(val), None
    if kind == EVENT_KIND and val in EVENTS:
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
