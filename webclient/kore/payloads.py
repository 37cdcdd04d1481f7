"""Kore wire shapes: build V1/V2 request bodies, and normalise every answer shape.

Requests follow the request tables of Kore's "Adding WebHook as a channel"
(Koredotcom/docs docs/xo/channels/add-webhook-channel.md): V1 `message.text` and top-level
`userLevelTags`/`sessionLevelTags`/`messageLevelTags`; V2 `message.type`/`val`, `metaTags`,
`interactiveLanguage`; attachments as objects (`{"url"}`, with the file's name and type),
and a V2 message with attachments is of type `text` with a `val` that is never blank. V1
documents no events ("Not supported"): they are forwarded only to bots set to send them.

Answers arrive as V1 `{"text": …}` (a string, an object or a list of either), V2
`{"data": [{"val": …}]}`, V2 poll states, and the same bodies POSTed to our callback. Items
that are JSON strings (sometimes HTML-entity escaped) hold template objects; they are parsed
when they parse and kept as plain text otherwise. A Digital Form (`form.formDef`) travels
with the text that introduces it as one `{"text", "form"}` item, in V1 as in V2: Kore
documents it at the top level (`{"text": [], "form": …}`), beside `text` or `data`; a form
inside a V2 item's `val` is read too. Event items (`SESSION_CLOSURE_SUCCESS`…) are platform
signals, not bot messages: they go to `events`.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict, cast

from webclient.attachments import upstream_attachments
from webclient.forms import FormData
from webclient.models import Bot, Conversation, Message
from webclient.page_context import upstream_context
from webclient.services import UserBody

TASK_FIELDS = ("endOfTask", "endReason", "completedTaskId", "completedTaskName")


@dataclass(frozen=True)
class BotItem:
    """One bot message as the relay normalised it from any upstream answer."""

    item: Any
    platform_message_id: str | None = None


class UpstreamFormData(FormData):
    meta: dict[str, Any]


class Attachment(TypedDict):
    url: str
    fileName: str
    fileType: str


class V1Message(TypedDict, total=False):
    text: str
    formData: UpstreamFormData
    type: str  # "event", with `val`: what Kore's Web SDK sends to V1 URLs
    val: str
    attachments: list[Attachment]


class V2Message(TypedDict):
    type: str  # "text", "formData" or "event"
    val: str | UpstreamFormData
    attachments: NotRequired[list[Attachment]]


class Party(TypedDict):
    id: str


class Sender(Party):
    userInfo: dict[str, Any]


class Session(TypedDict):
    new: bool


# "from" is a keyword, hence the functional form.
RequestBody = TypedDict(
    "RequestBody",
    {
        "session": Session,
        "from": Sender,
        "to": Party,
        "preferredChannelForResponse": NotRequired[str],
        "interactiveLanguage": NotRequired[str],
        "message": V1Message | V2Message,
        "customData": NotRequired[dict[str, Any]],
        "metaTags": NotRequired[dict[str, Any]],
        "userLevelTags": NotRequired[Any],
        "sessionLevelTags": NotRequired[Any],
        "messageLevelTags": NotRequired[Any],
        "mergeIdentity": NotRequired[bool],
    },
)

# V1's request table lists the tags at the top level and has no `metaTags`.
V1_TAGS = ("userLevelTags", "sessionLevelTags", "messageLevelTags")


@dataclass
class Answer:
    items: list[BotItem] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    task_state: dict[str, Any] = field(default_factory=dict)
    poll_id: str | None = None
    in_progress: bool = False


def forwarded_upstream(bot: Bot, message: Message) -> bool:
    """Whether the message goes to the platform: events go to V1 bots only when set to."""
    data = message.data or {}
    is_event = isinstance(data, dict) and "event" in data
    return not is_event or bot.api_version == Bot.ApiVersion.V2 or bot.send_v1_events


def request_body(bot: Bot, conversation: Conversation, message: Message) -> RequestBody:
    sent = cast(UserBody, message.data or {})
    v1 = bot.api_version == Bot.ApiVersion.V1
    body: RequestBody = {
        "session": {"new": not conversation.session_started},
        "from": {"id": conversation.identity, "userInfo": {}},
        "to": {"id": bot.bot_id},
        "message": _v1_message(sent) if v1 else _v2_message(sent),
    }
    if bot.preferred_channel:
        body["preferredChannelForResponse"] = bot.preferred_channel
    if not v1 and sent.get("language"):
        body["interactiveLanguage"] = sent["language"]
    if "attachments" in sent:
        body["message"]["attachments"] = cast(
            list[Attachment],
            upstream_attachments(conversation_id=conversation.pk, keys=sent["attachments"]),
        )
        if not v1 and not str(body["message"]["val"]).strip():
            # Kore: with attachments, `val` "cannot be blank".
            body["message"]["val"] = ", ".join(
                a["fileName"] for a in body["message"]["attachments"]
            )
    context = upstream_context(bot, sent.get("pageContext"))
    if "customData" in context:
        body["customData"] = context["customData"]
    if "metaTags" in context:
        if v1:
            for tag in V1_TAGS:
                if tag in context["metaTags"]:
                    body[tag] = context["metaTags"][tag]  # type: ignore[literal-required]
        else:
            body["metaTags"] = context["metaTags"]
    if bot.merge_identity:
        body["mergeIdentity"] = True
    return body


def _v1_message(sent: UserBody) -> V1Message:
    if "postback" in sent:
        return {"text": sent["postback"]["payload"]}
    if "formData" in sent:
        return {"text": "", "formData": {**sent["formData"], "meta": {}}}
    if "event" in sent:
        # V1 documents no event shape: send what Kore's own Web SDK sends to V1 URLs.
        return {"type": "event", "val": sent["event"]}
    return {"text": sent["text"]}


def _v2_message(sent: UserBody) -> V2Message:
    if "postback" in sent:
        return {"type": "text", "val": sent["postback"]["payload"]}
    if "formData" in sent:
        return {"type": "formData", "val": {**sent["formData"], "meta": {}}}
    if "event" in sent:
        return {"type": "event", "val": sent["event"]}
    return {"type": "text", "val": sent["text"]}


def parse_item(value: Any) -> Any:
    """A text item as a template object when it is (possibly entity-escaped) JSON."""
    if not isinstance(value, str):
        return value
    for candidate in (value, html.unescape(value)):
        stripped = candidate.strip()
        if stripped[:1] in ("{", "["):
            try:
                parsed = json.loads(stripped)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                return parsed
    return value


def _text_items(text: Any) -> list[Any]:
    if text is None or text == "":
        return []
    values = text if isinstance(text, list) else [text]
    return [parse_item(value) for value in values if value not in (None, "")]


def _form(body: dict[str, Any]) -> dict[str, Any] | None:
    form = body.get("form")
    return form if isinstance(form, dict) and isinstance(form.get("formDef"), dict) else None


def _with_form(items: list[Any], form: dict[str, Any]) -> None:
    """The form belongs with the text that introduces it, as one item."""
    if items and isinstance(items[-1], str):
        items[-1] = {"text": items[-1], "form": form}
    else:
        items.append({"form": form})


def _v2_entries(answer: Answer, data: list[Any]) -> None:
    for entry in data:
        if not isinstance(entry, dict):
            continue
        if entry.get("type") == "event":
            answer.events.append(str(entry.get("eventType") or entry.get("val") or ""))
            continue
        message_id = entry.get("messageId")
        for index, item in enumerate(_text_items(entry.get("val"))):
            pid = message_id if isinstance(message_id, str) and message_id else None
            if pid and index:
                pid = f"{pid}#{index}"
            answer.items.append(BotItem(item, pid))


def _v1_items(answer: Answer, body: dict[str, Any]) -> None:
    items = _text_items(body.get("text"))
    form = _form(body)
    if form is not None:
        _with_form(items, form)
    answer.items.extend(BotItem(item) for item in items)


def _top_level_form(answer: Answer, form: dict[str, Any]) -> None:
    """A form beside `data`: with the last text item when it is one, else on its own."""
    last = answer.items[-1] if answer.items else None
    if last is not None and isinstance(last.item, str):
        answer.items[-1] = BotItem({"text": last.item, "form": form}, last.platform_message_id)
    else:
        answer.items.append(BotItem({"form": form}))


def parse_answer(body: dict[str, Any]) -> Answer:
    """Normalise any answer or callback body from V1 or V2."""
    answer = Answer(task_state={k: body[k] for k in TASK_FIELDS if k in body})
    poll_id = body.get("pollId")
    answer.poll_id = poll_id if isinstance(poll_id, str) and poll_id else None
    answer.in_progress = str(body.get("status", "")).lower() == "inprogress"
    data = body.get("data")
    if isinstance(data, list):
        _v2_entries(answer, data)
        form = _form(body)
        if form is not None:
            _top_level_form(answer, form)
    else:
        _v1_items(answer, body)
    return answer


def callback_user(body: dict[str, Any]) -> str | None:
    """Whom a callback is for: `to` as a string (V1's documented example) or `{"id": …}`.
    Kore's documented V2 body names nobody: None."""
    to = body.get("to")
    if isinstance(to, dict):
        to = to.get("id")
    return to if isinstance(to, str) and to else None
