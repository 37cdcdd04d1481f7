"""Our stored messages in the shapes Kore's Web SDK reads, and the signed ids it carries.

The SDK turns each entry of a V2 answer's `data` (or a V1 answer's `text`) into a bubble:
`val` is the text, or a template as a JSON string; `messageId` must be stable, since the
SDK skips an id it already shows. A stored message is `ms-<id>`; a form that came with a
text is a second entry, `ms-<id>-form`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing

from webclient.models import Message

POLL_SALT = "webclient.kore_sdk.poll"
FORM_SALT = "webclient.kore_sdk.form"
# How long a form link stays usable.
FORM_LINK_AGE = 24 * 3600
# Seconds per slot of the send's retry key (see `retry_key`).
RETRY_SLOT = 10


def message_id(pk: int) -> str:
    return f"ms-{pk}"


@dataclass(frozen=True)
class PollCursor:
    """What a pollId carries: the conversation, the last message already answered, and the
    send that started its chain (the SDK starts a chain at every answer with a pollId and
    keeps the older ones going: a chain ends once a later send started another)."""

    conversation_id: int
    after: int
    send: int


def poll_id_issue(cursor: PollCursor) -> str:
    value = {"c": cursor.conversation_id, "a": cursor.after, "s": cursor.send}
    return signing.dumps(value, salt=POLL_SALT)


def poll_id_read(poll_id: str) -> PollCursor | None:
    """The pollId's cursor, or None when it is forged or older than the chain's life."""
    try:
        value = signing.loads(poll_id, salt=POLL_SALT, max_age=settings.KORE_SDK_POLL_CHAIN)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict):
        return None
    conversation, after, send = (value.get(key) for key in ("c", "a", "s"))
    if not (isinstance(conversation, int) and isinstance(after, int) and isinstance(send, int)):
        return None
    return PollCursor(conversation, after, send)


def form_link_token(conversation_id: int, form_message_id: int) -> str:
    return signing.dumps({"c": conversation_id, "m": form_message_id}, salt=FORM_SALT)


def form_link_read(token: str) -> tuple[int, int] | None:
    """(conversation id, form message id) of a form link still valid, or None."""
    try:
        value = signing.loads(token, salt=FORM_SALT, max_age=FORM_LINK_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict):
        return None
    conversation, message = value.get("c"), value.get("m")
    if not isinstance(conversation, int) or not isinstance(message, int):
        return None
    return conversation, message


# The client message ids of the SDK's sends, and of forms submitted on the form page.
SEND_KEY_PREFIX = "sdk-"
FORM_KEY_PREFIX = "kore-form-"


def retry_key(token: str, body: bytes, slot: int) -> str:
    """The client message id of an SDK send: the SDK sends none, and resends the same
    request (same token, same bytes) after a transport error. A send whose key exists in
    this slot or the one before is that retry, answered with the first message."""
    digest = hashlib.sha256(b"\n".join([token.encode(), body, str(slot).encode()]))
    return f"{SEND_KEY_PREFIX}{digest.hexdigest()[:40]}"


def _form_of(item: Any) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    if isinstance(item.get("form"), dict):
        return dict(item["form"])
    if isinstance(item.get("formDef"), dict):
        return item
    return None


def form_template(link: str, form: dict[str, Any]) -> dict[str, Any]:
    """A Digital Form as the SDK channel offers it: `formData.formLink`, with renderType
    "inline" so that the SDK shows the form's page in an iframe inside the conversation
    (with `template_type: "iframe"` this SDK build would append a bare iframe instead)."""
    given = form.get("formDef")
    form_def: dict[str, Any] = given if isinstance(given, dict) else {}
    name = form_def.get("displayName") or form_def.get("name") or "Form"
    return {
        "type": "template",
        "payload": {
            "formData": {
                "formLink": link,
                "formId": str(form_def.get("_id") or ""),
                "formName": str(name),
                "renderType": "inline",
            },
        },
    }


def _parts(message: dict[str, Any], form_link: str) -> list[Any]:
    """What one stored message shows as, in order: texts as strings, anything else as the
    template object the SDK renders."""
    item = message["data"]
    if message["role"] == Message.Role.SYSTEM:
        return [message["text"]] if message["kind"] == Message.Kind.ERROR else []
    if message["role"] != Message.Role.BOT:
        return []
    form = _form_of(item)
    if form is not None:
        text = item.get("text") if isinstance(item, dict) else None
        return [*([text] if isinstance(text, str) and text else []), form_template(form_link, form)]
    if isinstance(item, dict) and set(item) == {"text"} and isinstance(item["text"], str):
        # `{"text": …}` (V1's welcome): the SDK would show the object as raw JSON.
        return [item["text"]]
    if item is None or item == "":
        return [message["text"]] if message["text"] else []
    return [item]


def bot_entries(message: dict[str, Any], form_link: str) -> list[dict[str, Any]]:
    """The `data` entries of one stored message (as `messages_output` gives it)."""
    entries = []
    for index, part in enumerate(_parts(message, form_link)):
        entries.append(
            {
                "type": "text",
                "val": part if isinstance(part, str) else json.dumps(part),
                "messageId": message_id(message["id"]) + ("-form" if index else ""),
                "createdOn": message["createdAt"],
            }
        )
    return entries


def history_entry(
    entry: dict[str, Any], *, incoming: bool, user: str, bot_id: str, channel: str
) -> dict[str, Any]:
    """One message of a chathistory page, as Kore's platform gives it."""
    return {
        "_id": entry["messageId"],
        "type": "incoming" if incoming else "outgoing",
        "status": "received" if incoming else "delivered",
        "createdBy": user if incoming else bot_id,
        "createdOn": entry["createdOn"],
        "botId": bot_id,
        "channel": channel,
        "components": [{"cT": "text", "data": {"text": entry["val"]}}],
    }


def user_entry(message: dict[str, Any]) -> dict[str, Any] | None:
    """A user's own message as history shows it; events (ON_CONNECT) are not shown."""
    data = message["data"]
    if message["role"] != Message.Role.USER or (isinstance(data, dict) and "event" in data):
        return None
    return {
        "val": message["text"],
        "messageId": message_id(message["id"]),
        "createdOn": message["createdAt"],
    }
