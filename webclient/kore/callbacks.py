"""Asynchronous bot messages the platform POSTs to our callback (POST_URL).

Bodies: V1 `{"to", "from", "text"[, "form"]}`, a V1 task-end-only `{"to", "from",
"endOfTask", …}`, and V2 `{"data": [...], "_v": "v2"}` (Kore's documented V2 example names
no user; some platforms add `to`).

Routing: a body that names its user goes to that user's conversation. One that names
nobody goes to the conversation it answers when that can be told: the only conversation of
its bot awaiting an asynchronous answer: from the forward of a message until the bot's task
for each message forwarded has ended (a body with `endOfTask`, which Kore sends as a message
of its own), or KORE_CALLBACK_ROUTE_WINDOW passes without a callback (each callback renews
it). Otherwise, or for a user with no conversation, the body
is kept as an UndeliverableCallback (listed in the admin with its body, counted in
/metrics as `undeliverable`, logged once at WARNING): never silently dropped.

The platform may deliver the same message more than once (its retry policy is
undocumented), so every delivery is stored at most once:
- items with a platform `messageId` (V2) by that id, for ever;
- items without one (V1) by a digest of the whole body together with the user message being
  answered (the newest one forwarded), within KORE_CALLBACK_DEDUP_WINDOW. The anchor keeps a
  legitimate repeat (the same "Hello!" answering a second "hi") from looking like a
  redelivery; the window bounds how long a digest is remembered.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webclient import logs, selectors, services
from webclient.kore import outbox
from webclient.kore.payloads import Answer, callback_user, parse_answer
from webclient.models import Bot, Conversation, UndeliverableCallback

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    status: str  # "stored", "duplicate" or "undeliverable"
    stored: int = 0
    reason: str = ""


def delivery_key(body: dict[str, Any], anchor: int) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(f"{anchor}|{canonical}".encode()).hexdigest()[:40]
    return f"cb:{digest}"


def receive(bot: Bot, body: dict[str, Any]) -> Received:
    """Store what a callback carries in the conversation it is for; keep what cannot be
    routed."""
    user = callback_user(body)
    conversation = (
        selectors.conversation_find(bot_id=bot.pk, identity=user)
        if user is not None
        else selectors.conversation_awaiting_callback(bot_id=bot.pk, now=timezone.now())
    )
    if conversation is None:
        reason = (
            UndeliverableCallback.Reason.NO_RECIPIENT
            if user is None
            else UndeliverableCallback.Reason.UNKNOWN_USER
        )
        kept = UndeliverableCallback.objects.create(
            bot=bot, reason=reason, recipient=user or "", body=body
        )
        log.warning(
            "bot %s: callback kept as undeliverable #%s (%s)", bot.slug, kept.pk, reason.label
        )
        return Received("undeliverable", reason=reason.value)
    logs.adopt_request_id(outbox.latest_forwarded_user_message(conversation=conversation))
    answer = parse_answer(body)
    if answer.events:
        # SESSION_CLOSURE_* confirmations: the relay told the user when the platform
        # accepted the closure, so the echo here adds nothing to the transcript.
        log.info("bot %s: callback events %s", bot.slug, answer.events)
    with transaction.atomic():
        stored = _store(conversation, body, answer)
        if answer.task_state:
            services.conversation_update(conversation=conversation, task_state=answer.task_state)
        if "endOfTask" in answer.task_state or answer.events:
            # The bot's task ended (or the session closed): one answer less to wait for.
            services.conversation_callback_done(conversation=conversation)
        else:
            window = timedelta(seconds=settings.KORE_CALLBACK_ROUTE_WINDOW)
            services.conversation_callback_renewed(
                conversation=conversation, until=timezone.now() + window
            )
        outbox.conversation_settle(conversation=conversation)
    if answer.items and not stored:
        return Received("duplicate")
    return Received("stored", stored=stored)


def _store(conversation: Conversation, body: dict[str, Any], answer: Answer) -> int:
    if not answer.items:
        return 0
    if all(item.platform_message_id for item in answer.items):
        return len(services.bot_messages_store(conversation=conversation, items=answer.items))
    anchor = outbox.latest_forwarded_user_message(conversation=conversation)
    return len(
        outbox.bot_delivery_store_once(
            conversation=conversation,
            items=answer.items,
            delivery_key=delivery_key(body, anchor.pk if anchor else 0),
            window=timedelta(seconds=settings.KORE_CALLBACK_DEDUP_WINDOW),
        )
    )
