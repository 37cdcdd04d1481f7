"""The relay's state machine: the outbox and the conversation state it drives.

A user message is its own outbox entry: `accepted` until forwarded (`sent`) or `failed`.
A claim is a lease that the forwarding process renews; a lapsed lease means the process
died mid-call, and the message is failed with a visible reason, never re-sent.
`Conversation.pending` is true while the user waits on the bot; `conversation_settle` is the
one place that decides it from the outbox.

Any number of processes run this at once (docs/deployment.md): a conversation is served by
one process at a time (its dispatch lease), a message is claimed in a transaction that locks
its conversation, and every background job (recovering lapsed leases, settling stale
`pending`, forgetting old callback keys) is a statement that is safe to run concurrently.

The chat-domain writes (storing messages, system entries, conversation fields) stay in
`webclient.services`; this module composes them into the relay's transitions. The two reads
that only the relay makes (`outbox_conversations`, `latest_forwarded_user_message`) live
here too, next to the transitions whose state they read.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import NamedTuple

from django.db import models, transaction
from django.utils import timezone

from webclient import plainsql, services
from webclient.delivery import notifier
from webclient.kore.payloads import BotItem
from webclient.models import CallbackDelivery, Conversation, Message
from webclient.render import Rendered

log = logging.getLogger(__name__)

# ---- reads -----------------------------------------------------------------------------


def outbox_conversations(*, owner: str) -> list[int]:
    """Conversations with a user message waiting to be forwarded that no other process
    serves (or whose server's lease lapsed)."""
    free = (
        models.Q(conversation__dispatch_lease_until__isnull=True)
        | models.Q(conversation__dispatch_lease_until__lt=timezone.now())
        | models.Q(conversation__dispatch_owner=owner)
    )
    return list(
        Message.objects.filter(
            free, status=Message.Status.ACCEPTED, forward_started_at__isnull=True
        )
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


class Claim(NamedTuple):
    """What `outbox_claim` got: whether this process serves the conversation, and the
    message it claimed (None when nothing waits, or one is already in flight)."""

    served: bool
    message: Message | None


def outbox_claim(*, conversation_id: int, owner: str, lease: timedelta) -> Claim:
    """Serve the conversation from `owner` and claim its oldest accepted message, unless one
    is already in flight, in one transaction.

    The conversation's dispatch lease is taken (or renewed) first, by a conditional UPDATE
    that locks the conversation's row on PostgreSQL, so the check that nothing of it is in
    flight and the claim cannot interleave with another process's: each message is
    forwarded at most once, by one process, in order. The claim lasts `lease` unless renewed
    (`outbox_renew`).
    """
    with transaction.atomic():
        if not _dispatch_lease_take(conversation_id, owner, lease):
            return Claim(served=False, message=None)
        head = plainsql.OUTBOX_HEAD.one([conversation_id, Message.Status.ACCEPTED])
        if head is None or head[1] is not None:
            return Claim(served=True, message=None)
        now = timezone.now()
        plainsql.MESSAGE_CLAIM.count([plainsql.moment(now), plainsql.moment(now + lease), head[0]])
        # What the forward needs, read once claimed (by primary key: a third of the
        # ORM's cost of the ordered lookup above).
        return Claim(
            served=True, message=Message.objects.select_related("conversation__bot").get(pk=head[0])
        )


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
        changed = user_message_sent(message=message)
        if changed:
            services.conversation_update(conversation=message.conversation, session_started=True)
    return changed


def user_message_sent(*, message: Message) -> bool:
    """`sent`, unless its lease lapsed and it was failed; the caller starts the session
    (`conversation_answered` does it with the answer, in one UPDATE)."""
    changed = plainsql.MESSAGE_SENT.count(
        [Message.Status.SENT, message.pk, Message.Status.ACCEPTED]
    )
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


def conversation_settle(*, conversation: Conversation, session_started: bool | None = None) -> bool:
    """`pending` stays true only while a user message still waits to be forwarded; returns
    whether one does. `session_started` rides along in the same UPDATE."""
    waiting = _outbox_waits(conversation.pk)
    services.conversation_update(
        conversation=conversation, pending=waiting, session_started=session_started
    )
    return waiting


def conversation_answered(
    *, conversation: Conversation, owner: str, lease: timedelta, session_started: bool | None
) -> bool:
    """The bot's answer is stored: settle `pending` and, unless another message waits, let
    go of the conversation (True), in the answer's transaction.

    The release comes first: its UPDATE locks the conversation's row (PostgreSQL), which
    every store of a message locks too (`services.message_create`), so a message accepted
    concurrently either committed before, and the check after the lock sees it waiting (the
    conversation is kept), or commits after this transaction, and its wake-up finds the
    conversation free. SQLite has one writer anyway.
    """
    _dispatch_lease_drop(conversation.pk, owner)
    waiting = conversation_settle(conversation=conversation, session_started=session_started)
    if waiting:
        _dispatch_lease_take(conversation.pk, owner, lease)
    return not waiting


def conversations_settle_stale(*, idle: timedelta) -> None:
    """Clear `pending` where nothing happened for `idle` (an async bot that never answered).

    The typing indicator must not spin for ever; a late answer is still stored and shown.
    One UPDATE, so that any number of processes may run it at once, and a conversation that
    a concurrent send just made active (a newer `last_activity_at`) is left alone.
    """
    cutoff = timezone.now() - idle
    waiting = Message.objects.filter(
        conversation=models.OuterRef("pk"),
        status=Message.Status.ACCEPTED,
        forward_started_at__isnull=True,
    )
    stale = Conversation.objects.filter(pending=True, last_activity_at__lt=cutoff)
    with transaction.atomic(savepoint=False):
        # The channels to tell: a superset of those the UPDATE changes only costs their polls
        # one more look.
        found = list(stale.values_list("bot_id", "identity"))
        if found and stale.update(pending=models.Exists(waiting)):
            for bot_id, identity in found:
                notifier.changed(Conversation.channel_of(bot_id, identity))


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

    The delivery claims its key in the same transaction as its messages are stored; of two
    concurrent deliveries of one body, the second finds the key taken and stores nothing.
    A repeat after `window` (a legitimate one) re-arms the key and is stored again.
    """
    with transaction.atomic():
        if not _callback_delivery_claim(conversation, delivery_key, window):
            return []
        return services.bot_messages_store(
            conversation=conversation, items=[BotItem(bot_item.item) for bot_item in items]
        )


def _callback_delivery_claim(conversation: Conversation, digest: str, window: timedelta) -> bool:
    """Insert the key, or re-arm it if its window lapsed, in one atomic statement.

    INSERT … ON CONFLICT DO UPDATE … WHERE (PostgreSQL and SQLite alike) returns a row only
    when it inserted or re-armed: a concurrent insert of the same key waits for the first
    to commit, then finds it within its window, and returns nothing.
    """
    now = timezone.now()
    claimed = plainsql.CALLBACK_DELIVERY_CLAIM.one(
        [conversation.pk, digest, plainsql.moment(now), plainsql.moment(now - window)]
    )
    return claimed is not None


def callback_deliveries_forget(*, window: timedelta) -> None:
    """Drop de-duplication keys whose window lapsed (they would be re-armed anyway)."""
    CallbackDelivery.objects.filter(seen_at__lt=timezone.now() - window).delete()


# ---- one process serves a conversation at a time ---------------------------------------
# A lease on the conversation, taken with one conditional UPDATE (the row lock makes it
# atomic), renewed while serving, released when its outbox is empty.


def _dispatch_lease_take(conversation_id: int, owner: str, lease: timedelta) -> bool:
    """Serve this conversation's outbox from `owner` unless another process holds it."""
    now = timezone.now()
    claimed = plainsql.DISPATCH_LEASE_TAKE.count(
        [owner, plainsql.moment(now + lease), conversation_id, plainsql.moment(now), owner]
    )
    return bool(claimed)


def _dispatch_lease_drop(conversation_id: int, owner: str) -> None:
    plainsql.DISPATCH_LEASE_DROP.count([conversation_id, owner])


def _outbox_waits(conversation_id: int) -> bool:
    """Whether a message of the conversation waits to be forwarded."""
    return plainsql.OUTBOX_WAITS.one([conversation_id, Message.Status.ACCEPTED]) is not None


def conversations_dispatch_renew(
    *, conversation_ids: list[int], owner: str, lease: timedelta
) -> None:
    if conversation_ids:
        Conversation.objects.filter(pk__in=conversation_ids, dispatch_owner=owner).update(
            dispatch_lease_until=timezone.now() + lease
        )


def conversation_dispatch_release(*, conversation_id: int, owner: str) -> bool:
    """Let go of the conversation; True when a message still waits (accepted meanwhile)."""
    _dispatch_lease_drop(conversation_id, owner)
    return _outbox_waits(conversation_id)


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
        services.message_accepted_on_commit(conversation=conversation)
    log.info("operator %s retried message %s as message %s", operator, original.pk, attempt.pk)
    return attempt
