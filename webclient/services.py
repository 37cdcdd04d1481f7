"""Every write. The function that stores a message is the one that publishes it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.html import escape

from webclient import selectors
from webclient.delivery import notifier
from webclient.errors import ApplicationError, Kind
from webclient.models import Bot, Conversation, Message
from webclient.rendering import Rendered, forms, render_bot_item, render_user_input


@dataclass(frozen=True)
class BotItem:
    """One bot message as the relay normalised it from any upstream answer."""

    item: Any
    platform_message_id: str | None = None


def conversation_get_or_create(*, bot: Bot, identity: str) -> Conversation:
    conversation, _ = Conversation.objects.get_or_create(bot=bot, identity=identity)
    return conversation


def message_create(
    *,
    conversation: Conversation,
    role: str,
    rendered: Rendered,
    data: Any = None,
    client_message_id: str | None = None,
    platform_message_id: str | None = None,
    status: str | None = None,
) -> Message:
    message = Message.objects.create(
        conversation=conversation,
        role=role,
        kind=rendered.kind,
        text=rendered.text,
        html=rendered.html,
        data=data,
        client_message_id=client_message_id,
        platform_message_id=platform_message_id,
        status=status,
    )
    channel = conversation.channel
    transaction.on_commit(lambda: notifier.publish(channel))
    return message


def system_message_add(
    *,
    conversation: Conversation,
    refers_to: Message,
    kind: str,
    text: str,
    data: dict[str, Any],
    shown: bool = True,
) -> Message:
    """A later change of state about `refers_to`, as a new entry of the log; a state the
    widget applies without a line of its own (a form closed) is not `shown`."""
    html = f'<p class="kc-system">{escape(text)}</p>' if shown else ""
    return message_create(
        conversation=conversation,
        role=Message.Role.SYSTEM,
        rendered=Rendered(kind=kind, text=text, html=html),
        data={"refersTo": refers_to.pk, **data},
    )


def user_message_accept(
    *, bot: Bot, identity: str, body: dict[str, Any], client_message_id: str
) -> tuple[Message, bool]:
    """Store a user message in the outbox; the same client_message_id is accepted once.

    Returns the message and whether it was new.
    """
    conversation = conversation_get_or_create(bot=bot, identity=identity)
    try:
        with transaction.atomic():
            existing = conversation.messages.filter(client_message_id=client_message_id).first()
            if existing is not None:
                return existing, False
            if "formData" in body:
                message = _form_submission_accept(
                    conversation=conversation, body=body, client_message_id=client_message_id
                )
            else:
                message = message_create(
                    conversation=conversation,
                    role=Message.Role.USER,
                    rendered=render_user_input(body),
                    data=body,
                    client_message_id=client_message_id,
                    status=Message.Status.ACCEPTED,
                )
            Conversation.objects.filter(pk=conversation.pk).update(
                pending=True, last_activity_at=timezone.now()
            )
            if settings.KORE_DISPATCHER:
                from webclient.kore.dispatcher import dispatcher

                transaction.on_commit(dispatcher.kick)
    except IntegrityError:
        # A concurrent request with the same id won the race: answer with its message.
        return conversation.messages.get(client_message_id=client_message_id), False
    return message, True


def _form_submission_accept(
    *, conversation: Conversation, body: dict[str, Any], client_message_id: str
) -> Message:
    """Validate a Digital Form submission against the form the bot sent, then store it.

    What is forwarded is rebuilt from the form (its own components, in order, hidden and
    disabled ones with their prefill, the button entry); the user sees a read-only summary,
    and a system entry closes the form so that it stays closed after a reload.
    """
    submitted = body["formData"]
    form_message = selectors.form_message_find(
        conversation=conversation, form_id=submitted["formId"]
    )
    if form_message is None:
        raise ApplicationError(
            "unknown_form", "This conversation has no such form.", Kind.NOT_FOUND
        )
    if selectors.form_is_closed(form_message=form_message):
        raise ApplicationError(
            "form_closed", "This form was already submitted or cancelled.", Kind.CONFLICT
        )
    form: dict[str, Any] = form_message.data or {}
    entries = submitted["data"]
    try:
        forms.form_validate(form, entries)
    except forms.FormErrors as exc:
        raise ApplicationError("invalid_form", str(exc), extra={"fields": exc.fields}) from None
    cancelled = forms.form_is_cancel(form, entries)
    message = message_create(
        conversation=conversation,
        role=Message.Role.USER,
        rendered=Rendered(
            kind=Message.Kind.FORM,
            text="Form cancelled" if cancelled else "Form submitted",
            html=forms.form_submitted_html(form, entries),
        ),
        data={"formData": forms.form_data_body(form, entries, api_version=2)["val"]},
        client_message_id=client_message_id,
        status=Message.Status.ACCEPTED,
    )
    state = "cancelled" if cancelled else "submitted"
    system_message_add(
        conversation=conversation,
        refers_to=form_message,
        kind=Message.Kind.EVENT,
        text=f"Form {state}",
        data={"state": state, "by": message.pk},
        shown=False,
    )
    return message


def bot_messages_store(*, conversation: Conversation, items: list[BotItem]) -> list[Message]:
    """Store bot messages in order, each platform message id at most once."""
    stored = []
    with transaction.atomic():
        for bot_item in items:
            pid = bot_item.platform_message_id
            if pid and conversation.messages.filter(platform_message_id=pid).exists():
                continue
            stored.append(
                message_create(
                    conversation=conversation,
                    role=Message.Role.BOT,
                    rendered=render_bot_item(bot_item.item),
                    data=bot_item.item,
                    platform_message_id=pid,
                )
            )
        Conversation.objects.filter(pk=conversation.pk).update(last_activity_at=timezone.now())
    return stored


def user_message_mark_failed(*, message: Message, reason: str) -> Message:
    """Fail a user message and tell the user: a new system message refers to it."""
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.FAILED, failure_reason=reason
        )
        return system_message_add(
            conversation=message.conversation,
            refers_to=message,
            kind=Message.Kind.ERROR,
            text=reason,
            data={"status": Message.Status.FAILED, "reason": reason},
        )


def conversation_update(
    *,
    conversation: Conversation,
    pending: bool | None = None,
    session_started: bool | None = None,
    task_state: dict[str, Any] | None = None,
) -> None:
    changes: dict[str, Any] = {}
    if pending is not None:
        changes["pending"] = pending
    if session_started is not None:
        changes["session_started"] = session_started
    if task_state is not None:
        changes["task_state"] = task_state
    if changes:
        Conversation.objects.filter(pk=conversation.pk).update(**changes)
        for field, value in changes.items():
            setattr(conversation, field, value)


# Relay (webclient/kore/): the outbox, conversation state, and what the platform confirms.
# A user message is its own outbox entry: `accepted` until forwarded (`sent`) or `failed`.


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


def user_message_mark_forwarded(*, message: Message) -> bool:
    """The platform took the message: `sent`, and the session counts as started.

    False when its lease had lapsed and it was already failed (the user was told).
    """
    with transaction.atomic():
        changed = Message.objects.filter(pk=message.pk, status=Message.Status.ACCEPTED).update(
            status=Message.Status.SENT
        )
        if changed:
            conversation_update(conversation=message.conversation, session_started=True)
    return bool(changed)


def conversation_settle(*, conversation: Conversation) -> None:
    """`pending` stays true only while a user message still waits to be forwarded."""
    waiting = conversation.messages.filter(
        status=Message.Status.ACCEPTED, forward_started_at__isnull=True
    ).exists()
    conversation_update(conversation=conversation, pending=waiting)


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
        notice = system_message_add(
            conversation=conversation,
            refers_to=message,
            kind=Message.Kind.EVENT,
            text=text,
            data={"event": "SESSION_CLOSURE", "status": "ignored" if ignored else "closed"},
        )
        conversation_update(conversation=conversation, session_started=False, task_state={})
    return notice


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
        return bot_messages_store(conversation=conversation, items=keyed)


def conversations_settle_stale(*, idle: timedelta) -> None:
    """Clear `pending` where nothing happened for `idle` (an async bot that never answered).

    The typing indicator must not spin for ever; a late answer is still stored and shown.
    """
    cutoff = timezone.now() - idle
    for conversation in Conversation.objects.filter(pending=True, last_activity_at__lt=cutoff):
        conversation_settle(conversation=conversation)
