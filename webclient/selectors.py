"""Every read. Anything about a conversation is filtered by (bot, identity)."""

from __future__ import annotations

from django.conf import settings

from webclient.api.errors import ApiError
from webclient.models import Bot, Conversation, Message

# Most messages one answer carries; a client with more to read asks again at once.
PAGE_SIZE = 200


def bot_get(*, slug: str | None) -> Bot:
    bot = Bot.objects.filter(slug=slug or settings.DEFAULT_BOT, enabled=True).first()
    if bot is None:
        raise ApiError(404, "unknown_bot", "There is no such bot.")
    return bot


def conversation_find(*, bot_id: int, identity: str) -> Conversation | None:
    return Conversation.objects.filter(bot_id=bot_id, identity=identity).first()


def messages_after(*, bot_id: int, identity: str, after: int) -> list[Message]:
    return list(
        Message.objects.filter(
            conversation__bot_id=bot_id, conversation__identity=identity, id__gt=after
        ).order_by("id")[:PAGE_SIZE]
    )


def conversation_pending(*, bot_id: int, identity: str) -> bool:
    return Conversation.objects.filter(bot_id=bot_id, identity=identity, pending=True).exists()
