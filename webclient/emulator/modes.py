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
from django.http import HttpResponse, JsonResponse

from webclient.emulator import demo_bot, wire
from webclient.emulator.callbacks import Delivery, dispatcher
from webclient.emulator.channels import Channel
from webclient.emulator.demo_bot import Turn
from webclient.emulator.inbound import Inbound
from webclient.emulator.models import EmulatedWebhook
from webclient.emulator.state import Conversation, HistoryEntry, state
from webclient.emulator.wire import BotMessage, Style

# The platform cuts synchronous calls at 15 s; tests may shorten it.
DEFAULT_SYNC_TIMEOUT = 15.0


def sync_timeout() -> float:
    return float(getattr(settings, "KORE_EMULATOR_SYNC_TIMEOUT", DEFAULT_SYNC_TIMEOUT))


def style_for(channel: Channel, body: Any) -> Style:
    asked_sdk = isinstance(body, dict) and body.get("preferredChannelForResponse") == "rtm"
    return Style(
        form_top=channel.form_placement == EmulatedWebhook.FormPlacement.TOP,
        form_links=channel.sdk_form_links and asked_sdk,
    )


async def answer(channel: Channel, inbound: Inbound, body: Any) -> HttpResponse:
    started = time.monotonic()
    style = style_for(channel, body)
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
        dispatcher.schedule(_deliveries(channel, inbound.user_id, turn, started, style))
        if channel.version == 1:
            # The doc: "an acknowledgement response ... with Status Code as 200", no body.
            if channel.v1_ack_body == EmulatedWebhook.AckBody.JSON:
                return wire.ok({"status": "ok"})
            return wire.empty_ok()
        # The doc's V2 "Request Acknowledgement".
        return wire.ok({"status": "ok", "_v": "v2", "traceId": wire.trace_id()})
    if channel.version == 2 and channel.polling and turn.duration > 0:
        return _start_poll_chain(channel, inbound.user_id, turn, started, style)
    if turn.duration >= sync_timeout():
        await asyncio.sleep(sync_timeout())
        return error_for(504)
    await asyncio.sleep(turn.duration)
    remember_outgoing(conversation, turn.messages)
    if channel.version == 1:
        return wire.ok(wire.v1_body(turn.messages, turn.task, style))
    return wire.ok(wire.v2_body(inbound.user_id, channel.bot_id, turn.messages, turn.task, style))


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


def _start_poll_chain(
    channel: Channel, user_id: str, turn: Turn, started: float, style: Style
) -> JsonResponse:
    ready = [part for part in turn.parts if part.after <= 0]
    rest = list(turn.parts[len(ready) :])
    messages = [message for part in ready for message in part.messages]
    conversation = (channel.bot_id, channel.channel_type, user_id)
    remember_outgoing(conversation, messages)
    poll_id = wire.poll_id()
    state.add_poll(poll_id, conversation, started, rest, turn.task, style)
    # `data` is always present (possibly empty): the Web SDK crashes on a body without it.
    return wire.ok(
        wire.with_poll_id(wire.v2_body(user_id, channel.bot_id, messages, None, style), poll_id)
    )


def _deliveries(
    channel: Channel, user_id: str, turn: Turn, started: float, style: Style
) -> list[Delivery]:
    """One POST per bot message at its time, then (the doc: "delivered as a separate
    message") one with the task fields."""
    conversation = (channel.bot_id, channel.channel_type, user_id)
    # V1's documented POST_URL body names the user; V2's names nobody unless set to.
    named = user_id if channel.version == 1 or channel.callback_names_user else None
    timed = [(part.after, message) for part in turn.parts for message in part.messages]
    deliveries = []
    for after, message in timed:
        if channel.version == 1:
            build = partial(_v1_callback, channel, user_id, message, conversation, style)
        else:
            build = partial(_v2_callback, channel, named, message, conversation, style)
        deliveries.append(
            Delivery(started + after, channel.post_url, channel.bot_id, user_id, build)
        )
    if turn.task:
        task_fields = wire.task_end_body(
            turn.task, version=channel.version, user=named, bot_id=channel.bot_id
        )
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
    channel: Channel,
    user_id: str,
    message: BotMessage,
    conversation: Conversation,
    style: Style,
) -> dict[str, Any]:
    """The doc's V1 asynchronous sample: `{"to", "from", "text"}`."""
    remember_outgoing(conversation, [message])
    body = wire.v1_body([message], None, style)
    return {"to": user_id, "from": channel.bot_id, **body}


def _v2_callback(
    channel: Channel,
    named: str | None,
    message: BotMessage,
    conversation: Conversation,
    style: Style,
) -> dict[str, Any]:
    remember_outgoing(conversation, [message])
    return wire.v2_callback_body(message, style, user=named, bot_id=channel.bot_id)
