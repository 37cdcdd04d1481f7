"""Reads of the Kore SDK routes. Anything about a conversation is filtered by (bot, identity)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from webclient.models import Conversation, Message


def message_with_client_id(*, conversation: Conversation, client_message_id: str) -> bool:
    return conversation.messages.filter(client_message_id=client_message_id).exists()


def history_page(
    *, conversation: Conversation, offset: int, limit: int
) -> tuple[list[Message], bool]:
    """Shown messages (the user's but their events, the bot's, errors), newest first, and
    whether there are older ones."""
    shown = conversation.messages.filter(
        Q(role=Message.Role.BOT)
        | Q(role=Message.Role.USER) & ~Q(kind=Message.Kind.EVENT)
        | Q(role=Message.Role.SYSTEM, kind=Message.Kind.ERROR)
    ).order_by("-id")
    page = list(shown[offset : offset + limit + 1])
    return page[:limit], len(page) > limit


def form_message_get(*, conversation_id: int, message_id: int) -> Message | None:
    """The bot message carrying a form, with its conversation and bot."""
    return (
        Message.objects.select_related("conversation", "conversation__bot")
        .filter(
            pk=message_id,
            conversation_id=conversation_id,
            role=Message.Role.BOT,
            kind=Message.Kind.FORM,
            conversation__bot__enabled=True,
        )
        .first()
    )


def newest_send(*, conversation: Conversation, key_prefix: str) -> int:
    """The id of the conversation's newest user message whose client id has this prefix
    (the SDK's sends), or 0."""
    newest = (
        conversation.messages.filter(
            role=Message.Role.USER, client_message_id__startswith=key_prefix
        )
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return newest or 0


def form_submission(*, form_message: Message) -> Message | None:
    """The user's submission (or cancel) of a form, once there is one: the system entry
    that closed the form names it."""
    closing = (
        form_message.conversation.messages.filter(
            role=Message.Role.SYSTEM,
            data__refersTo=form_message.pk,
            data__state__in=["submitted", "cancelled"],
        )
        .order_by("id")
        .first()
    )
    by = closing.data.get("by") if closing is not None and isinstance(closing.data, dict) else None
    if not isinstance(by, int):
        return None
    return form_message.conversation.messages.filter(pk=by, role=Message.Role.USER).first()


def chain_alive(*, conversation_id: int, life: int) -> bool:
    """Whether the bot may still speak in this conversation: it is working on an answer, or
    the last message came less than `life` seconds ago."""
    since = timezone.now() - timedelta(seconds=life)
    return (
        Conversation.objects.filter(pk=conversation_id)
        .filter(Q(pending=True) | Q(last_activity_at__gt=since))
        .exists()
    )
