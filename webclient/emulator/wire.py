"""What the emulated platform puts on the wire: ids, timestamps, error bodies, bot messages.

Every shape is the one Kore documents in "Adding WebHook as a channel" (Koredotcom/docs
docs/xo/channels/add-webhook-channel.md; "the doc" below), field for field; where the doc is
silent, docs/emulator.md lists the variants a channel can be switched to (`Style`). The demo
bot and the views never build wire JSON by hand.
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

from django.conf import settings
from django.http import HttpResponse, JsonResponse

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
    status: int,
    msg: str | None = None,
    headers: dict[str, str] | None = None,
    *,
    traced: bool = True,
) -> JsonResponse:
    """The doc's error body; `traced` adds `_v` and `_t`, as its "Error Scenarios" show
    (its "No data found" and jti refusals show `errors` alone)."""
    body: dict[str, Any] = {"errors": [{"msg": msg or error_message(status), "code": status}]}
    if traced:
        body.update({"_v": "v2", "_t": trace_id()})
    response = JsonResponse(body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def ok(body: dict[str, Any]) -> JsonResponse:
    return JsonResponse(body)


def empty_ok() -> HttpResponse:
    """The V1 asynchronous acknowledgement: status 200 and no body (the doc shows none)."""
    return HttpResponse(status=200)


@dataclass(frozen=True)
class Style:
    """How one channel, for one request, puts forms on the wire.

    - `form_top`: the doc's Digital Forms response puts `form` at the top level, beside the
      messages (`{"text": [], "form": {…}}`); off, a V2 form rides inside a data item's `val`.
    - `form_links`: the request asked for the SDK channel's answers
      (`preferredChannelForResponse: "rtm"`) and the channel is set to give them: a form
      comes as the SDK's `iframe` template with `formData.formLink` (what Kore's Web SDK
      renders), a link to the platform's hosted form.
    """

    form_top: bool = True
    form_links: bool = False


# The doc's own shapes.
DOCUMENTED = Style()


def form_link_template(form: dict[str, Any]) -> dict[str, Any]:
    form_def = form.get("formDef") or {}
    form_id = str(form_def.get("_id") or "form")
    return {
        "type": "template",
        "payload": {
            "template_type": "iframe",
            "formData": {
                "formLink": f"{settings.SITE_ROOT.rstrip('/')}/emulator/forms/{form_id}",
                "formId": form_id,
                "formName": form_def.get("displayName") or form_def.get("name") or "Form",
            },
            "renderType": "slider",
        },
    }


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


def v1_body(
    messages: list[BotMessage], task: TaskEnd | None, style: Style = DOCUMENTED
) -> dict[str, Any]:
    """A V1 synchronous answer: `text` is a string or object alone, an array when several;
    a form at the top level (or as the SDK's link template)."""
    items: list[Any] = []
    for message in messages:
        items.append(v1_text_item(message))
        if message.form and style.form_links:
            items.append(json.dumps(form_link_template(message.form)))
    body: dict[str, Any] = {"text": items[0] if len(items) == 1 else items}
    forms = [message.form for message in messages if message.form]
    if forms and not style.form_links:
        body["form"] = forms[0]
    if task:
        body.update(task.fields())
    return body


def v2_items(message: BotMessage, style: Style = DOCUMENTED) -> list[dict[str, Any]]:
    """The data items of one bot message (a form's link template is an item of its own)."""
    if message.event_type:
        # The doc's SESSION_CLOSURE responses: the event, its outcome and a description.
        return [
            {
                "type": "event",
                "val": "SESSION_CLOSURE",
                "eventType": message.event_type,
                "description": message.value,
            }
        ]
    value = message.value
    if isinstance(value, dict) and set(value) == {"text"}:
        # V2 sends plain text as a string `val`; Kore's Web SDK shows a `{"text"}` object raw.
        value = value["text"]
    if message.form and not style.form_top and not style.form_links:
        value = {"form": message.form, "text": value}
    items = [{"type": "text", "val": value}]
    if message.form and style.form_links:
        items.append({"type": "text", "val": form_link_template(message.form)})
    for item in items:
        item["createdOn"] = created_on()
        item["messageId"] = message_id()
    return items


def v2_body(
    user: str,
    bot_id: str,
    messages: list[BotMessage],
    task: TaskEnd | None,
    style: Style = DOCUMENTED,
) -> dict[str, Any]:
    """A V2 synchronous answer or poll result, as the doc's samples: to, from, data, _v."""
    data = [item for message in messages for item in v2_items(message, style)]
    if messages and all(message.event_type for message in messages):
        # The doc's session-closure answers: the event items and the version, nothing else.
        return {"data": data, "_v": "v2"}
    body: dict[str, Any] = {"to": user, "from": bot_id, "data": data, "_v": "v2"}
    forms = [message.form for message in messages if message.form]
    if forms and style.form_top and not style.form_links:
        body["form"] = forms[0]
    if task:
        body.update(task.fields())
    return body


def with_poll_id(answer: dict[str, Any], poll_id: str) -> dict[str, Any]:
    """An answer with more to come, as the doc's "Sample response with messages and
    'pollid'": data, _v and pollId (and a form, when one came), no to or from."""
    body: dict[str, Any] = {"data": answer["data"], "_v": "v2", "pollId": poll_id}
    if "form" in answer:
        body["form"] = answer["form"]
    return body


def v2_callback_body(
    message: BotMessage, style: Style, *, user: str | None, bot_id: str
) -> dict[str, Any]:
    """A V2 POST_URL body as the doc's example: `{"data": [{"type", "val", "createdOn"}],
    "_v": "v2"}`, with no recipient and no messageId; a channel set to name the user adds
    `to` and `from` as the synchronous answer has them."""
    items = v2_items(message, style)
    for item in items:
        item.pop("messageId", None)
    body: dict[str, Any] = {"data": items, "_v": "v2"}
    if message.form and style.form_top and not style.form_links:
        body["form"] = message.form
    if user is not None:
        body = {"to": user, "from": bot_id, **body}
    return body


def task_end_body(task: TaskEnd, *, version: int, user: str | None, bot_id: str) -> dict[str, Any]:
    """The separate POST the doc says carries endOfTask… in asynchronous mode (its exact
    shape is not shown: the task fields, with `_v` on V2 and the user when named)."""
    body: dict[str, Any] = {}
    if user is not None:
        body.update({"to": user, "from": bot_id})
    body.update(task.fields())
    if version == 2:
        body["_v"] = "v2"
    return body
