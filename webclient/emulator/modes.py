"""How one accepted user message is answered in each channel mode.

V1/V2 by sync/async, plus V2 sync with polling. The demo bot decides what is said and when;
this module decides how it travels and keeps the transcript and sessions in step.
"""

from __future__ import annotations

import asyncio
import json
import time
from functools import partial
from typing import Any

from django.conf import settings
from django.http import JsonResponse

from webclient.emulator import demo_bot, wire
from webclient.emulator.callbacks import Delivery, dispatcher
from webclient.emulator.channels import Channel
from webclient.emulator.demo_bot import Turn
from webclient.emulator.inbound import Inbound
from webclient.emulator.state import Conversation, HistoryEntry, state
from webclient.emulator.wire import BotMessage, TaskEnd

# The platform cuts synchronous calls at 15 s; tests may shorten it.
DEFAULT_SYNC_TIMEOUT = 15.0


def sync_timeout() -> float:
    return float(getattr(settings, "KORE_EMULATOR_SYNC_TIMEOUT", DEFAULT_SYNC_TIMEOUT))


async def answer(channel: Channel, inbound: Inbound, body: Any) -> JsonResponse:
    started = time.monotonic()
    turn = demo_bot.reply(inbound, session_open=_update_session(channel, inbound))
    if turn.error_status:
        state.record_request(
            channel.bot_id, channel.instance_id, inbound.user_id, turn.error_status, body
        )
        return error_for(turn.error_status)
    state.record_request(channel.bot_id, channel.instance_id, inbound.user_id, 200, body)
    conversation = (channel.bot_id, channel.channel_type, inbound.user_id)
    _remember_incoming(conversation, inbound)
    if channel.is_async:
        dispatcher.schedule(_deliveries(channel, inbound.user_id, turn, started))
        if channel.version == 1:
            return wire.ok({"status": "ok"})
        return wire.ok({"status": "ok", "_v": "v2", "traceId": wire.trace_id()})
    if channel.version == 2 and channel.polling and turn.duration > 0:
        return _start_poll_chain(channel, inbound.user_id, turn, started)
    if turn.duration >= sync_timeout():
        await asyncio.sleep(sync_timeout())
        return error_for(504)
    await asyncio.sleep(turn.duration)
    remember_outgoing(conversation, turn.messages)
    if channel.version == 1:
        return wire.ok(wire.v1_body(turn.messages, turn.task))
    return wire.ok(wire.v2_body(inbound.user_id, channel.bot_id, turn.messages, turn.task))


def error_for(status: int) -> JsonResponse:
    headers = {"Retry-After": str(1)} if status == 429 else None
    return wire.error_response(status, headers=headers)


def remember_outgoing(conversation: Conversation, messages: list[BotMessage]) -> None:
    for message in messages:
        value = message.value
        text = value if isinstance(value, str) else json.dumps(value)
        if message.form:
            text = json.dumps({"text": text, "form": message.form})
        state.remember(
            conversation, HistoryEntry(wire.message_id(), False, text, wire.created_on())
        )


def _update_session(channel: Channel, inbound: Inbound) -> bool:
    """Open the user's session (any message does); report whether one was open to close."""
    if inbound.kind == "event" and inbound.text == "SESSION_CLOSURE":
        return state.close_session(channel.bot_id, inbound.user_id)
    state.open_session(channel.bot_id, inbound.user_id)
    return True


def _remember_incoming(conversation: Conversation, inbound: Inbound) -> None:
    if inbound.kind == "event":
        return
    text = inbound.text if inbound.kind == "text" else json.dumps(inbound.form_data)
    state.remember(conversation, HistoryEntry(wire.message_id(), True, text, wire.created_on()))


def _start_poll_chain(channel: Channel, user_id: str, turn: Turn, started: float) -> JsonResponse:
    ready = [part for part in turn.parts if part.after <= 0]
    rest = list(turn.parts[len(ready) :])
    messages = [message for part in ready for message in part.messages]
    conversation = (channel.bot_id, channel.channel_type, user_id)
    remember_outgoing(conversation, messages)
    poll_id = wire.poll_id()
    state.add_poll(poll_id, conversation, started, rest, turn.task)
    # `data` is always present (possibly empty): the Web SDK crashes on a body without it.
    body = wire.v2_body(user_id, channel.bot_id, messages, None)
    body["pollId"] = poll_id
    return wire.ok(body)


def _deliveries(channel: Channel, user_id: str, turn: Turn, started: float) -> list[Delivery]:
    conversation = (channel.bot_id, channel.channel_type, user_id)
    timed = [(part.after, message) for part in turn.parts for message in part.messages]
    deliveries = []
    for index, (after, message) in enumerate(timed):
        is_last = index == len(timed) - 1
        if channel.version == 1:
            build = partial(_v1_callback, channel, user_id, message, conversation)
        else:
            task = turn.task if is_last else None
            build = partial(_v2_callback, channel, user_id, message, task, conversation)
        deliveries.append(
            Delivery(started + after, channel.post_url, channel.bot_id, user_id, build)
        )
    if channel.version == 1 and turn.task:
        # V1 sends the task-end fields as a POST of their own.
        task_fields = {"to": user_id, "from": channel.bot_id, **turn.task.fields()}
        deliveries.append(
            Delivery(
                started + turn.duration,
                channel.post_url,
                channel.bot_id,
                user_id,
                partial(dict, task_fields),
            )
        )
    return deliveries


def _v1_callback(
    channel: Channel, user_id: str, message: BotMessage, conversation: Conversation
) -> dict[str, Any]:
    remember_outgoing(conversation, [message])
    body: dict[str, Any] = {
        "to": user_id,
        "from": channel.bot_id,
        "text": wire.v1_text_item(message),
    }
    if message.form:
        body["form"] = message.form
    return body


def _v2_callback(
    channel: Channel,
    user_id: str,
    message: BotMessage,
    task: TaskEnd | None,
    conversation: Conversation,
) -> dict[str, Any]:
    remember_outgoing(conversation, [message])
    return wire.v2_body(user_id, channel.bot_id, [message], task)
