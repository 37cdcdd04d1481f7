"""Every read. Anything about a conversation is filtered by (bot, identity)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from webclient import forms, plainsql
from webclient.errors import ApplicationError, Kind
from webclient.models import Bot, Conversation, Message

# Most messages one answer carries; a client with more to read asks again at once.
PAGE_SIZE = 200
# How far back a form submission may refer.
FORMS_LOOKED_AT = 50


def bot_get(*, slug: str | None) -> Bot:
    bot = Bot.objects.filter(slug=slug or settings.DEFAULT_BOT, enabled=True).first()
    if bot is None:
        raise ApplicationError("unknown_bot", "There is no such bot.", Kind.NOT_FOUND)
    return bot


def bot_find(*, slug: str | None) -> Bot | None:
    """The enabled bot of this slug (the default bot without one), or None."""
    return Bot.objects.filter(slug=slug or settings.DEFAULT_BOT, enabled=True).first()


def bot_for_client(*, client_id: str) -> Bot | None:
    """The enabled bot of a Kore clientId (how Kore's Web SDK names it); the oldest when
    several share it."""
    return Bot.objects.filter(client_id=client_id, enabled=True).order_by("pk").first()


def conversation_find(*, bot_id: int, identity: str) -> Conversation | None:
    return Conversation.objects.filter(bot_id=bot_id, identity=identity).first()


def messages_after(*, bot_id: int, identity: str, after: int) -> list[Message]:
    return list(
        Message.objects.filter(
            conversation__bot_id=bot_id, conversation__identity=identity, id__gt=after
        ).order_by("id")[:PAGE_SIZE]
    )


@dataclass(frozen=True)
class PollState:
    newer: bool  # the conversation has messages after the poll's cursor
    pending: bool


def poll_states(keys: Sequence[tuple[int, str, int]]) -> list[PollState]:
    """For each (bot id, identity, cursor): whether its conversation has anything after the
    cursor, and its `pending`.

    Every poll asks this on arrival unless its notifier already knows
    (webclient/delivery/knowledge.py); the polls of one turn of the event loop ask together (a
    reconnect storm after a restart: thousands at once). One small indexed query in plain SQL
    (`plainsql.POLL_STATES`): for one poll the ORM costs 23 times its CPU on SQLite, 7.5 on
    PostgreSQL (docs/performance.md).
    """
    params = [value for n, key in enumerate(keys) for value in (n, *key)]
    found = [PollState(newer=False, pending=False)] * len(keys)
    for n, pending, newer in plainsql.POLL_STATES.all(params, rows=len(keys)):
        found[n] = PollState(newer=bool(newer), pending=bool(pending))
    return found


def bot_by_callback(*, slug: str) -> Bot | None:
    """The enabled bot a callback URL names, or None."""
    return Bot.objects.filter(slug=slug, enabled=True).first()


def form_message_find(*, conversation: Conversation, form_id: str) -> Message | None:
    """The bot message that carried this Digital Form, newest first."""
    recent = conversation.messages.filter(role=Message.Role.BOT, kind=Message.Kind.FORM)
    for message in recent.order_by("-id")[:FORMS_LOOKED_AT]:
        if forms.form_id(message.data) == form_id:
            return message
    return None


def form_is_closed(*, form_message: Message) -> bool:
    """Whether the form was already submitted or cancelled (a system entry says so)."""
    return form_message.conversation.messages.filter(
        role=Message.Role.SYSTEM,
        data__refersTo=form_message.pk,
        data__state__in=["submitted", "cancelled"],
    ).exists()


def conversation_awaiting_callback(*, bot_id: int, now: datetime) -> Conversation | None:
    """The one conversation of the bot waiting on an asynchronous answer, if just one is:
    where a callback that names no user belongs (webclient/kore/callbacks.py)."""
    waiting = list(
        Conversation.objects.select_related("bot").filter(
            bot_id=bot_id, awaiting_callback_until__gt=now
        )[:2]
    )
    return waiting[0] if len(waiting) == 1 else None
