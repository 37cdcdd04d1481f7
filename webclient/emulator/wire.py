"""What the emulated platform puts on the wire: ids, timestamps, error bodies, bot messages.

Everything here mirrors kore-webhook-protocol.md; the demo bot and the views never build
wire JSON by hand.
"""

from __future__ import annotations

import html
import json
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from django.http import JsonResponse

_TRACE_ALPHABET = string.ascii_uppercase + string.digits

# Older platform paths send these templates HTML-entity escaped inside V1 `text`; the
# emulator does the same so that relays meet both spellings.
HTML_ESCAPED_TEMPLATES = frozenset({"button", "quick_replies", "list"})

ERROR_MESSAGES = {
    400: "Invalid Request Payload",
    401: "Invalid Access token",
    404: "Not Found",
    429: "Too Many requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "The request has been timed-out",
}


def trace_id() -> str:
    return "RTM-TRACE-" + "".join(secrets.choice(_TRACE_ALPHABET) for _ in range(9))


def message_id() -> str:
    return f"ms-{uuid.uuid4()}"


def poll_id() -> str:
    return uuid.uuid4().hex


def created_on() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_message(status: int) -> str:
    if status in ERROR_MESSAGES:
        return ERROR_MESSAGES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_response(
    status: int, msg: str | None = None, headers: dict[str, str] | None = None
) -> JsonResponse:
    body = {
        "errors": [{"msg": msg or error_message(status), "code": status}],
        "_v": "v2",
        "_t": trace_id(),
    }
    response = JsonResponse(body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def ok(body: dict[str, Any]) -> JsonResponse:
    return JsonResponse(body)


@dataclass(frozen=True)
class BotMessage:
    """One message of the bot: plain text, a template envelope, a form, or an event."""

    value: str | dict[str, Any]
    form: dict[str, Any] | None = None
    event_type: str | None = None


@dataclass(frozen=True)
class TaskEnd:
    end_of_task: bool
    end_reason: str | None = None
    task_name: str | None = None

    def fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"endOfTask": self.end_of_task}
        if self.end_reason:
            fields["endReason"] = self.end_reason
        if self.task_name:
            fields["completedTaskId"] = f"dg-{uuid.uuid5(uuid.NAMESPACE_URL, self.task_name)}"
            fields["completedTaskName"] = self.task_name
        return fields


def v1_text_item(message: BotMessage) -> str | dict[str, Any]:
    """A V1 `text` item: templates travel as JSON strings, some HTML-entity escaped."""
    value = message.value
    if isinstance(value, str):
        return value
    if value.get("type") is None and set(value) == {"text"}:
        return value
    encoded = json.dumps(value)
    template_type = (value.get("payload") or {}).get("template_type")
    if template_type in HTML_ESCAPED_TEMPLATES:
        return html.escape(encoded, quote=True)
    return encoded


def v1_body(messages: list[BotMessage], task: TaskEnd | None) -> dict[str, Any]:
    """A V1 synchronous answer: `text` is a string or object alone, an array when several."""
    items = [v1_text_item(message) for message in messages]
    body: dict[str, Any] = {"text": items[0] if len(items) == 1 else items}
    forms = [message.form for message in messages if message.form]
    if forms:
        body["form"] = forms[0]
    if task:
        body.update(task.fields())
    return body


def v2_item(message: BotMessage) -> dict[str, Any]:
    if message.event_type:
        item: dict[str, Any] = {"type": "event", "eventType": message.event_type}
        item["val"] = message.value
    elif message.form:
        item = {"type": "text", "val": {"form": message.form, "text": message.value}}
    elif isinstance(message.value, dict) and set(message.value) == {"text"}:
        # V2 sends plain text as a string `val`; Kore's Web SDK shows a `{"text"}` object raw.
        item = {"type": "text", "val": message.value["text"]}
    else:
        item = {"type": "text", "val": message.value}
    item["createdOn"] = created_on()
    item["messageId"] = message_id()
    return item


def v2_body(
    user: str, bot_id: str, messages: list[BotMessage], task: TaskEnd | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "to": user,
        "from": bot_id,
        "data": [v2_item(message) for message in messages],
        "_v": "v2",
    }
    if task:
        body.update(task.fields())
    return body
