"""Every write. The function that stores a message is the one that publishes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.html import escape

from webclient.delivery import notifier
from webclient.models import Bot, Conversation, Message
from webclient.rendering import Rendered, render_bot_item, render_user_input


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


def user_message_mark_sent(*, message: Message) -> None:
    Message.objects.filter(pk=message.pk).update(status=Message.Status.SENT)


def user_message_mark_failed(*, message: Message, reason: str) -> Message:
    """Fail a user message and tell the user: a new system message refers to it."""
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.FAILED, failure_reason=reason
        )
        return message_create(
            conversation=message.conversation,
            role=Message.Role.SYSTEM,
            rendered=Rendered(
                kind=Message.Kind.ERROR,
                text=reason,
                html=f'<p class="kc-failure">{escape(reason)}</p>',
            ),
            data={"refersTo": message.pk, "status": Message.Status.FAILED, "reason": reason},
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
