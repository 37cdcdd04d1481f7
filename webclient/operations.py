"""Writes operators make: retrying a failed message, purging old conversations.

They go through the same services as the relay's own writes (services.message_create
stores and publishes; the outbox is the `accepted` status), so a retried message is
forwarded by the dispatcher like any other, and the user's widget learns of it by the cursor.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webclient import services
from webclient.models import Conversation, Message
from webclient.rendering import Rendered

log = logging.getLogger(__name__)

RETRIED = "An operator sent this message to the bot again."


class NotRetryable(Exception):
    """Only a failed user message can be sent again."""


def user_message_retry(*, message: Message, operator: str) -> Message:
    """Forward a failed user message again, as a new attempt.

    The attempt is a new outbox entry (a copy with its own clientMessageId, `accepted`), so
    the relay's exactly-once bookkeeping applies to it unchanged. It has no HTML of its own:
    the user sees a system entry about the original message, not the message twice.
    """
    with transaction.atomic():
        original = (
            Message.objects.select_for_update()
            .select_related("conversation")
            .filter(pk=message.pk, role=Message.Role.USER, status=Message.Status.FAILED)
            .first()
        )
        if original is None:
            raise NotRetryable(f"Message {message.pk} is not a failed user message.")
        conversation = original.conversation
        attempt = services.message_create(
            conversation=conversation,
            role=Message.Role.USER,
            rendered=Rendered(kind=original.kind, text=original.text, html=""),
            data=original.data,
            client_message_id=f"retry-{uuid.uuid4().hex}",
            status=Message.Status.ACCEPTED,
        )
        services.system_message_add(
            conversation=conversation,
            refers_to=original,
            kind=Message.Kind.EVENT,
            text=RETRIED,
            data={"state": "retried", "by": attempt.pk},
        )
        services.conversation_update(conversation=conversation, pending=True)
        if settings.KORE_DISPATCHER:
            from webclient.kore.dispatcher import dispatcher

            transaction.on_commit(dispatcher.kick)
    log.info("operator %s retried message %s as message %s", operator, original.pk, attempt.pk)
    return attempt


@dataclass(frozen=True)
class Purged:
    conversations: int
    messages: int


def retention() -> timedelta | None:
    """How long conversations are kept (RETENTION_DAYS); None: for ever."""
    days: int = settings.RETENTION_DAYS
    return timedelta(days=days) if days > 0 else None


def conversations_purge(*, older_than: timedelta, dry_run: bool = False) -> Purged:
    """Delete conversations (and their messages) with no activity for `older_than`.

    A conversation with a message still in the outbox is kept: it is not finished.
    """
    cutoff = timezone.now() - older_than
    stale = Conversation.objects.filter(last_activity_at__lt=cutoff).exclude(
        messages__status=Message.Status.ACCEPTED
    )
    messages = Message.objects.filter(conversation__in=stale)
    found = Purged(stale.count(), messages.count())
    if not dry_run:
        stale.delete()  # messages go with their conversation (on_delete=CASCADE)
        log.info(
            "purged %d conversation(s), %d message(s) idle since %s",
            found.conversations,
            found.messages,
            cutoff.isoformat(),
        )
    return found
