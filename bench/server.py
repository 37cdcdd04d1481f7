"""The benchmark's server: the production ASGI application, plus what only a benchmark needs.

Run as `python -m bench.serve`. Everything the product serves is served by
kore_chat.asgi unchanged; this module only adds, under `/__bench__/`:

- `GET /__bench__/stats`: the database queries run so far by this process (every
  connection, every thread: an execute wrapper on each connection as it opens) and the
  long-polls waiting right now (the notifier's count), so that a benchmark can check what it
  measured instead of trusting its own client.
- `POST /__bench__/store?bot=<slug>&identity=&text=`: stores one bot message into that
  conversation through the product's own service, as the relay does with a bot's reply.
- `WS /__bench__/ws/<bot pk>/<identity>`: a Django Channels consumer (in-memory channel
  layer) that receives every message stored in that conversation, pushed at commit with its
  payload serialised when it was stored: the WebSocket baseline of the delivery latency.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from typing import Any
from urllib.parse import parse_qsl

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from django.db import transaction
from django.db.backends.signals import connection_created
from django.db.models.signals import post_save
from django.urls import path

from kore_chat.asgi import application as product
from webclient import delivery, services
from webclient.api.asgi import Receive, Scope, Send
from webclient.api.longpoll import run_db
from webclient.api.serializers import messages_output
from webclient.kore.payloads import BotItem
from webclient.models import Bot, Conversation, Message


class QueryCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        with self._lock:
            self.count += 1
        return execute(sql, params, many, context)


queries = QueryCounter()


def _count_queries(sender: Any, connection: Any, **kwargs: Any) -> None:
    if queries not in connection.execute_wrappers:
        connection.execute_wrappers.append(queries)


connection_created.connect(_count_queries)


def waiting_polls() -> int:
    notifier = delivery.notifier
    return int(notifier.waiting()) if hasattr(notifier, "waiting") else -1


def group_name(bot_id: int | str, identity: str) -> str:
    return f"chat.{bot_id}.{identity}"


class PushedMessages(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        kwargs = self.scope["url_route"]["kwargs"]
        self.group = group_name(kwargs["bot"], kwargs["identity"])
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.send_json(event["message"])


websockets = URLRouter([path("__bench__/ws/<int:bot>/<str:identity>", PushedMessages.as_asgi())])
_loop: asyncio.AbstractEventLoop | None = None


def _push_stored(sender: Any, instance: Message, created: bool, **kwargs: Any) -> None:
    """What a Channels app does with a stored message: serialise it, send it to the group."""
    layer = get_channel_layer()
    if not created or _loop is None:
        return
    conversation = instance.conversation  # set by the service that stored it: no query
    group = group_name(conversation.bot_id, conversation.identity)
    if group not in getattr(layer, "groups", {}):
        return  # nobody listens: cost the long-poll runs nothing
    event = {"type": "chat.message", "message": messages_output([instance])[0]}
    loop = _loop
    transaction.on_commit(
        lambda: asyncio.run_coroutine_threadsafe(layer.group_send(group, event), loop)
    )


post_save.connect(_push_stored, sender=Message)


def _store(slug: str, identity: str, text: str) -> int:
    bot = Bot.objects.get(slug=slug)
    conversation, _ = Conversation.objects.get_or_create(bot=bot, identity=identity)
    stored = services.bot_messages_store(conversation=conversation, items=[BotItem(text)])
    return stored[0].pk


async def _json(send: Send, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


async def bench_app(scope: Scope, receive: Receive, send: Send) -> None:
    query = dict(parse_qsl(scope.get("query_string", b"").decode()))
    if scope["path"] == "/__bench__/stats":
        await _json(send, {"queries": queries.count, "waiting": waiting_polls()})
    elif scope["path"] == "/__bench__/store":
        message_id = await run_db(_store, query["bot"], query["identity"], query["text"])
        await _json(send, {"id": message_id})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    global _loop
    if _loop is None:
        _loop = asyncio.get_running_loop()
    if scope["type"] == "websocket":
        await websockets(scope, receive, send)
    elif scope["type"] == "http" and scope["path"].startswith("/__bench__/"):
        await bench_app(scope, receive, send)
    else:
        await product(scope, receive, send)
