"""A conversation as an operator finds it: a carousel, a submitted Digital Form with a
password, a message that failed and one still in the outbox. Stored through the services,
as the relay would; also run by `manage.py shell` to seed a live server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.forms.test_forms import FORM_ID, data, valid
from webclient import services
from webclient.examples import demo_form, template_examples
from webclient.kore import outbox
from webclient.kore.payloads import BotItem
from webclient.models import Bot, Conversation, Message

IDENTITY = "alice@example.com"
UNREACHABLE = "The bot platform could not be reached. Please try again later."


@dataclass
class Story:
    bot: Bot
    conversation: Conversation
    carousel: Message
    form: Message
    submission: Message
    failed: Message
    waiting: Message


def accept(bot: Bot, body: dict[str, Any], client_message_id: str) -> Message:
    message, _ = services.user_message_accept(
        bot=bot, identity=IDENTITY, body=body, client_message_id=client_message_id
    )
    return message


def tell_story(bot: Bot) -> Story:
    first = accept(bot, {"text": "show me cards"}, "c-1")
    outbox.user_message_mark_forwarded(message=first)
    conversation = first.conversation
    carousel, form = services.bot_messages_store(
        conversation=conversation,
        items=[
            BotItem(template_examples()["carousel"]),
            BotItem({"text": "Please apply here.", "form": demo_form()}),
        ],
    )
    submission = accept(bot, {"formData": {"formId": FORM_ID, "data": data(valid())}}, "c-2")
    outbox.user_message_mark_forwarded(message=submission)
    failed = accept(bot, {"text": "are you there?"}, "c-3")
    outbox.outbox_fail(message=failed, reason=UNREACHABLE)
    failed.refresh_from_db()
    waiting = accept(bot, {"text": "hello?"}, "c-4")  # still in the outbox: pending
    return Story(bot, conversation, carousel, form, submission, failed, waiting)
