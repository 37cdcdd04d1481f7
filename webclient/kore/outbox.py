"""The relay's state machine: the outbox and the conversation state it drives.

A user message is its own outbox entry: `accepted` until forwarded (`sent`) or `failed`.
A claim is a lease that the forwarding process renews; a lapsed lease means the process
died mid-call, and the message is failed with a visible reason, never re-sent.
`Conversation.pending` is true while the user waits on the bot; `conversation_settle` is the
one place that decides it from the outbox.

The chat-domain writes (storing messages, system entries, conversation fields) stay in
`webclient.services`; this module composes them into the relay's transitions. The two reads
that only the relay makes (`outbox_conversations`, `latest_forwarded_user_message`) live
here too, next to the transitions whose state they read.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

from django.db import models, transaction
from django.utils import timezone

from webclient import services
from webclient.kore.payloads import BotItem
from webclient.models import Conversation, Message
from webclient.render import Rendered

log = logging.getLogger(__name__)

# ---- reads -----------------------------------------------------------------------------


def outbox_conversations() -> list[int]:
    """Conversations with a user message waiting to be forwarded."""
    return list(
        Message.objects.filter(status=Message.Status.ACCEPTED, forward_started_at__isnull=True)
        .values_list("conversation_id", flat=True)
        .distinct()
    )


def latest_forwarded_user_message(*, conversation: Conversation) -> Message | None:
    """The newest user message whose forward started: what a bot's callback answers."""
    return (
        conversation.messages.filter(role=Message.Role.USER, forward_started_at__isnull=False)
        .order_by("-id")
        .first()
    )


# ---- claim, renew, forwarded, fail -----------------------------------------------------


def outbox_claim(*, conversation_id: int, lease: timedelta) -> Message | None:
    """Claim the conversation's oldest accepted message, unless one is already in flight.

    The check and the claim share one transaction, so each message is forwarded at most
    once, by one process. The claim lasts `lease` unless renewed (`outbox_renew`).
    """
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update().select_related("bot").get(pk=conversation_id)
        )
        head = conversation.messages.filter(status=Message.Status.ACCEPTED).order_by("id").first()
        if head is None or head.forward_started_at is not None:
            return None
        now = timezone.now()
        head.forward_started_at = now
        head.forward_lease_until = now + lease
        head.save(update_fields=["forward_started_at", "forward_lease_until"])
        head.conversation = conversation
        return head


def outbox_renew(*, message_ids: list[int], lease: timedelta) -> None:
    """Extend the claims of messages this process is still forwarding."""
    if message_ids:
        Message.objects.filter(pk__in=message_ids, status=Message.Status.ACCEPTED).update(
            forward_lease_until=timezone.now() + lease
        )


def user_message_mark_forwarded(*, message: Message) -> bool:
    """The platform took the message: `sent`, and the session counts as started.

    False when its lease had lapsed and it was already failed (the user was told).
    """
    with transaction.atomic():
        changed = Message.objects.filter(pk=message.pk, status=Message.Status.ACCEPTED).update(
            status=Message.Status.SENT
        )
        if changed:
            services.conversation_update(conversation=message.conversation, session_started=True)
    return bool(changed)


def user_message_mark_failed(*, message: Message, reason: str) -> Message:
    """Fail a user message and tell the user: a new system message refers to it."""
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.FAILED, failure_reason=reason
        )
        return services.system_message_add(
            conversation=message.conversation,
            refers_to=message,
            kind=Message.Kind.ERROR,
            text=reason,
            data={"status": Message.Status.FAILED, "reason": reason},
        )


def outbox_fail(*, message: Message, reason: str) -> bool:
    """Fail a message still in the outbox, tell the user, settle the conversation.

    False when it already left the outbox (sent, or failed by someone else): a forward and
    the expiry of its lease never both decide its fate.
    """
    with transaction.atomic():
        still_accepted = (
            Message.objects.select_for_update()
            .filter(pk=message.pk, status=Message.Status.ACCEPTED)
            .exists()
        )
        if not still_accepted:
            return False
        user_message_mark_failed(message=message, reason=reason)
        conversation_settle(conversation=message.conversation)
    return True


def outbox_fail_interrupted(*, reason: str) -> int:
    """Fail every claimed message whose lease lapsed: its process died mid-call.

    Whether the platform got it is unknown, so it is never sent again; the user is told.
    A claim without a lease predates leases and counts as lapsed.
    """
    lapsed = Message.objects.filter(
        status=Message.Status.ACCEPTED, forward_started_at__isnull=False
    ).filter(models.Q(forward_lease_until__lt=timezone.now()) | models.Q(forward_lease_until=None))
    return sum(
        outbox_fail(message=message, reason=reason)
        for message in lapsed.select_related("conversation")
    )


# ---- conversation state ----------------------------------------------------------------


def conversation_settle(*, conversation: Conversation) -> None:
    """`pending` stays true only while a user message still waits to be forwarded."""
    waiting = conversation.messages.filter(
        status=Message.Status.ACCEPTED, forward_started_at__isnull=True
    ).exists()
    services.conversation_update(conversation=conversation, pending=waiting)


def conversations_settle_stale(*, idle: timedelta) -> None:
    """Clear `pending` where nothing happened for `idle` (an async bot that never answered).

    The typing indicator must not spin for ever; a late answer is still stored and shown.
    """
    cutoff = timezone.now() - idle
    for conversation in Conversation.objects.filter(pending=True, last_activity_at__lt=cutoff):
        conversation_settle(conversation=conversation)


def conversation_session_closed(
    *, conversation: Conversation, message: Message, ignored: bool
) -> Message:
    """The platform confirmed SESSION_CLOSURE: say so, and start afresh next time."""
    text = (
        "There was no open chat session to end."
        if ignored
        else "The chat session has ended. Send a message to start a new one."
    )
    with transaction.atomic():
        notice = services.system_message_add(
            conversation=conversation,
            refers_to=message,
            kind=Message.Kind.EVENT,
            text=text,
            data={"event": "SESSION_CLOSURE", "status": "ignored" if ignored else "closed"},
        )
        services.conversation_update(
            conversation=conversation, session_started=False, task_state={}
        )
    return notice


# ---- deliveries without platform ids ---------------------------------------------------


def bot_delivery_store_once(
    *,
    conversation: Conversation,
    items: list[BotItem],
    delivery_key: str,
    window: timedelta,
) -> list[Message]:
    """Store a delivery without platform ids (V1 callbacks) unless stored within `window`.

    Each stored item's platform id is `<delivery_key>:<stamp>:<n>`, so a later, legitimate
    repeat of the same words outside the window is stored again.
    """
    with transaction.atomic():
        seen = conversation.messages.filter(
            platform_message_id__startswith=f"{delivery_key}:",
            created_at__gte=timezone.now() - window,
        ).exists()
        if seen:
            return []
        stamp = time.time_ns()
        keyed = [
            BotItem(bot_item.item, f"{delivery_key}:{stamp}:{n}")
            for n, bot_item in enumerate(items)
        ]
        return services.bot_messages_store(conversation=conversation, items=keyed)


# ---- operators -------------------------------------------------------------------------

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
        services.message_accepted_on_commit()
    log.info("operator %s retried message %s as message %s", operator, original.pk, attempt.pk)
    return attempt
