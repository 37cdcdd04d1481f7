"""The emulated platform's HTTP surface: webhook calls, polls, and the Web SDK's reads.

Views are async so that slow answers (`slow n`, the 15 s cut-off) wait without holding a
worker thread under ASGI; runserver runs them just as well.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from webclient.emulator import channels, modes, wire
from webclient.emulator.auth import InvalidToken, authenticate, check_identity, token_user
from webclient.emulator.channels import Channel
from webclient.emulator.faults import injector
from webclient.emulator.inbound import InvalidPayload, parse
from webclient.emulator.state import state

HISTORY_DEFAULT_LIMIT = 10
HISTORY_MAX_LIMIT = 100
# The bot's avatar for the Web SDK (botmeta's `icon`): a small inline SVG, no static files.
BOT_ICON = (
    "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'>"
    "<circle cx='16' cy='16' r='16' fill='%235b5fc7'/><text x='16' y='21' font-size='14' "
    "text-anchor='middle' fill='white' font-family='sans-serif'>D</text></svg>"
)


@csrf_exempt
@require_POST
async def v1_webhook(request: HttpRequest, bot_id: str, instance_id: str = "") -> HttpResponse:
    return await _webhook(request, 1, bot_id, instance_id)


@csrf_exempt
@require_POST
async def v2_webhook(request: HttpRequest, bot_id: str, instance_id: str = "") -> HttpResponse:
    return await _webhook(request, 2, bot_id, instance_id)


async def _webhook(
    request: HttpRequest, version: int, bot_id: str, instance_id: str
) -> HttpResponse:
    channel = await channels.channel(bot_id, instance_id)
    if channel is None or channel.version != version:
        return wire.error_response(404, f"No V{version} webhook channel here")
    try:
        _, claims = authenticate(request.headers.get("Authorization"), [channel])
    except InvalidToken as exc:
        return _refused(exc)
    try:
        body: Any = json.loads(request.body)
        inbound = parse(body, version)
    except (ValueError, InvalidPayload):
        return wire.error_response(400)
    try:
        check_identity(claims, inbound.user_id)
    except InvalidToken as exc:
        return _refused(exc)
    fault = injector.take(bot_id)
    if fault:
        state.record_request(bot_id, instance_id, inbound.user_id, fault.status, body)
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else None
        return wire.error_response(fault.status, headers=headers)
    return await modes.answer(channel, inbound, body)


@require_GET
async def poll(request: HttpRequest, bot_id: str, poll_id: str) -> JsonResponse:
    candidates = await channels.bot_channels(bot_id)
    if not candidates:
        return wire.error_response(404, "No webhook channel here")
    try:
        authenticate(request.headers.get("Authorization"), candidates)
    except InvalidToken as exc:
        return _refused(exc)
    result = state.take_poll(poll_id, bot_id, wire.poll_id())
    if not result.found:
        return wire.error_response(400, "No data found", traced=False)
    if result.in_progress:
        return wire.ok({"status": "Inprogress", "pollId": poll_id, "_v": "v2"})
    modes.remember_outgoing(result.conversation, result.messages)
    _, _, user_id = result.conversation
    body = wire.v2_body(user_id, bot_id, result.messages, result.task, result.style)
    if result.next_poll_id:
        # More is to come: the doc's "Sample response with messages and 'pollid'".
        body = wire.with_poll_id(body, result.next_poll_id)
    return wire.ok(body)


@require_GET
async def bot_meta(request: HttpRequest, bot_id: str) -> JsonResponse:
    caller = await _sdk_caller(request, bot_id)
    if isinstance(caller, JsonResponse):
        return caller
    channel, _ = caller
    return wire.ok({"_id": bot_id, "name": channel.bot_name, "icon": BOT_ICON})


@require_GET
async def chat_history(request: HttpRequest, bot_id: str, channel_type: str) -> JsonResponse:
    caller = await _sdk_caller(request, bot_id)
    if isinstance(caller, JsonResponse):
        return caller
    _, claims = caller
    if channel_type not in {c.channel_type for c in await channels.bot_channels(bot_id)}:
        return wire.error_response(404, "No such channel")
    user_id = token_user(claims) or ""
    limit = min(_int_param(request, "limit", HISTORY_DEFAULT_LIMIT), HISTORY_MAX_LIMIT)
    offset = _int_param(request, "offset", 0)
    # Newest first, as the SDK's paging (offset from the newest, oldestId last) expects.
    newest_first = list(reversed(state.history((bot_id, channel_type, user_id))))
    page = newest_first[offset : offset + limit]
    messages = [
        {
            "_id": entry.message_id,
            "type": "incoming" if entry.incoming else "outgoing",
            "status": "received" if entry.incoming else "delivered",
            "createdBy": user_id if entry.incoming else bot_id,
            "createdOn": entry.created_on,
            "botId": bot_id,
            "channel": channel_type,
            "components": [{"cT": "text", "data": {"text": entry.text}}],
        }
        for entry in page
    ]
    return wire.ok(
        {
            "messages": messages,
            "moreAvailable": offset + limit < len(newest_first),
            "icon": BOT_ICON,
        }
    )


async def _sdk_caller(request: HttpRequest, bot_id: str) -> tuple[Channel, dict] | JsonResponse:
    """The channel and claims behind a Web SDK read, or the error to answer."""
    candidates = await channels.bot_channels(bot_id)
    if not candidates:
        return wire.error_response(404, "No webhook channel here")
    try:
        return authenticate(request.headers.get("Authorization"), candidates)
    except InvalidToken as exc:
        return _refused(exc)


@require_GET
def hosted_form(request: HttpRequest, form_id: str) -> HttpResponse:
    """Where an SDK-channel form's `formLink` points: Kore hosts the form page itself; the
    emulator shows a stand-in that names the form."""
    return HttpResponse(
        format_html(
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<title>Form {}</title></head><body><h1>Kore-hosted form (emulated)</h1>"
            "<p>Form <code>{}</code> is filled in on the platform's own page.</p></body></html>",
            form_id,
            form_id,
        )
    )


def _refused(exc: InvalidToken) -> JsonResponse:
    # Kore's jti refusals come as `{"errors": […]}` alone (sdk-security.md).
    return wire.error_response(401, exc.msg, traced=exc.msg == "Invalid Access token")


def _int_param(request: HttpRequest, name: str, default: int) -> int:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else default
