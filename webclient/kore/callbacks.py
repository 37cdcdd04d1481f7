"""Asynchronous bot messages the platform POSTs to our callback (POST_URL).

Bodies: V1 `{"to", "from", "text"[, "form"]}`, a V1 task-end-only `{"to", "from",
"endOfTask", …}`, and V2 `{"data": [...], "_v": "v2"[, "to"]}`. The platform may deliver the
same message more than once (its retry policy is undocumented), so every delivery is stored
at most once:
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

from webclient import logs, selectors, services
from webclient.kore import outbox
from webclient.kore.payloads import Answer, callback_user, parse_answer
from webclient.models import Bot, Conversation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    status: str  # "stored", "duplicate" or "ignored"
    stored: int = 0
    reason: str = ""


def delivery_key(body: dict[str, Any], anchor: int) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(f"{anchor}|{canonical}".encode()).hexdigest()[:40]
    return f"cb:{digest}"


def receive(bot: Bot, body: dict[str, Any]) -> Received:
    """Store what a callback carries for the user it names; unknown users create nothing."""
    user = callback_user(body)
    if user is None:
        log.warning("bot %s: callback without a recipient ignored", bot.slug)
        return Received("ignored", reason="no_recipient")
    conversation = selectors.conversation_find(bot_id=bot.pk, identity=user)
    if conversation is None:
        log.warning("bot %s: callback for an unknown user ignored", bot.slug)
        return Received("ignored", reason="unknown_user")
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
