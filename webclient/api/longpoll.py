"""Receiving messages: `GET /api/v1/messages?after=&wait=`, the long-poll.

Under ASGI this path bypasses Django's request handling: Django gives every request its own
thread context (and sync middleware a thread), so a held request would pin an OS thread and,
once it touched the ORM, a database connection. Here a waiting poll is a coroutine and a
future; its few short queries run on a small shared pool of threads (LONGPOLL_DB_THREADS),
which bounds the database connections long-polls use. This handler is the poll's only
implementation: through Django (the WSGI development server, the test client) the DRF view
hands GET and HEAD to it (`answer_django_request`) before any of DRF's checks.

Bypassing Django also bypasses its middleware and DRF's permissions, so this handler makes
the same decisions itself: `bot_origins.response_cors_headers` for the CORS headers and
`bot_origins.origin_allowed` for the bot's origins (the preflight OPTIONS still goes through
Django: only GET and HEAD come here; a HEAD is answered at once, as a poll with no wait).
Its errors are built by the API's one builder, `error_answer`.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qsl
from wsgiref.util import is_hop_by_hop

from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from webclient import bot_origins, logs, metrics, selectors
from webclient.api.admission import admitted, held
from webclient.api.asgi import Receive, Scope, Send, send_json
from webclient.api.auth import bearer_token
from webclient.api.errors import DATABASE_DOWN, database_unavailable, error_answer
from webclient.api.serializers import MAX_CURSOR, PollInputSerializer, messages_output
from webclient.dbthreads import DbThreads
from webclient.delivery import waiting
from webclient.errors import ApplicationError, Kind
from webclient.loops import per_loop
from webclient.security.proxies import client_address
from webclient.sts import Principal, token_verify, token_verify_cached

# Their calls only read: one that met a stale connection runs again on a fresh one.
_db = DbThreads("longpoll-db", settings.LONGPOLL_DB_THREADS, retry=True)
run_db = _db.run


def _plain_int(value: str | None, default: int) -> int | None:
    """`value` as an int when it is plain ASCII digits within range; None when the
    serializer must decide (and word the error)."""
    if value is None:
        return default
    if value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
        return number if number <= MAX_CURSOR else None
    return None


def query_params(query_string: str) -> dict[str, str]:
    """The query's parameters (the last of each name, as Django's `QueryDict.dict()` keeps)."""
    return dict(parse_qsl(query_string))


def poll_params(query: dict[str, str]) -> tuple[int, int]:
    default = min(settings.LONGPOLL_DEFAULT_WAIT, settings.LONGPOLL_MAX_WAIT)
    # Every poll parses these: plain digits skip DRF's serializer (a tenth of a millisecond).
    after, wait = _plain_int(query.get("after"), 0), _plain_int(query.get("wait"), default)
    if after is not None and wait is not None:
        return after, min(wait, settings.LONGPOLL_MAX_WAIT)
    serializer = PollInputSerializer(data=query)
    if not serializer.is_valid():
        field, errors = next(iter(serializer.errors.items()))
        raise ApplicationError("invalid_request", f"{field}: {errors[0]}")
    wait = serializer.validated_data.get("wait", default)
    return serializer.validated_data["after"], wait


@dataclass(frozen=True)
class Snapshot:
    """What a poll answers; truthy when there is something to deliver."""

    messages: list[dict[str, Any]]
    pending: bool
    request_ids: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.messages)

    def newest(self, after: int) -> int | None:
        if not self.messages:
            return after
        return self.messages[-1]["id"] if len(self.messages) < selectors.PAGE_SIZE else None


Key = tuple[int, str, int]  # a poll's bot id, identity and cursor
# Most polls one query asks about.
LOOK_BATCH = 64


def _snapshots(keys: list[Key]) -> list[Snapshot]:
    states = selectors.poll_states(keys)
    return [_snapshot_of(key, state) for key, state in zip(keys, states, strict=True)]


def _snapshot_of(key: Key, state: selectors.PollState) -> Snapshot:
    if not state.newer:
        return Snapshot([], state.pending)
    bot_id, identity, after = key
    messages = selectors.messages_after(bot_id=bot_id, identity=identity, after=after)
    return Snapshot(messages_output(messages), state.pending, tuple(m.request_id for m in messages))


def _snapshot(bot_id: int, identity: str, after: int) -> Snapshot:
    return _snapshots([(bot_id, identity, after)])[0]


class _Looks:
    """The looks that the polls of one turn of an event loop ask for, made together: one
    query (and one trip to a database thread) for up to LOOK_BATCH polls. After a restart,
    every open widget reconnects at once, and none of their channels is known yet."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._queued: list[tuple[Key, asyncio.Future[Snapshot]]] = []

    def ask(self, key: Key) -> asyncio.Future[Snapshot]:
        future: asyncio.Future[Snapshot] = self.loop.create_future()
        if not self._queued:
            # After every poll that is running in this turn has asked.
            self.loop.call_soon(self._flush)
        self._queued.append((key, future))
        return future

    def _flush(self) -> None:
        queued, self._queued = self._queued, []
        for start in range(0, len(queued), LOOK_BATCH):
            batch = queued[start : start + LOOK_BATCH]
            made = _db.submit(_snapshots, [key for key, _ in batch])
            made.add_done_callback(partial(_answer_looks, batch))


def _answer_looks(
    batch: list[tuple[Key, asyncio.Future[Snapshot]]], made: asyncio.Future[list[Snapshot]]
) -> None:
    for n, (_, future) in enumerate(batch):
        if future.done():  # its poll went away
            continue
        if made.cancelled():
            future.cancel()
        elif (error := made.exception()) is not None:
            future.set_exception(error)
        else:
            future.set_result(made.result()[n])


# This event loop's batch.
_looks = per_loop(_Looks)


async def poll_answer(principal: Principal, after: int, wait: int) -> dict[str, Any]:
    bot_id, identity, channel = principal.bot.pk, principal.identity, principal.channel

    def query() -> Awaitable[Snapshot]:
        return _looks().ask((bot_id, identity, after))

    def current(pending: bool) -> Snapshot:
        return Snapshot([], pending)

    with metrics.LONGPOLLS_HELD.track_inprogress():
        found = await waiting.wait_for(channel, after, query, current, wait)
    logs.delivered(found.messages, found.request_ids)
    cursor = found.messages[-1]["id"] if found.messages else after
    return {"messages": found.messages, "cursor": cursor, "pending": found.pending}


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _answer_unless_disconnected(
    receive: Receive, answer: Awaitable[dict[str, Any]]
) -> dict[str, Any] | None:
    """The answer, or None when the client left first (its wait is then cancelled).

    The client's leaving cancels the answer by a callback: asyncio.wait on both costs
    twice as much, on every poll."""
    answering = asyncio.ensure_future(answer)
    leaving = asyncio.ensure_future(_until_disconnect(receive))
    leaving.add_done_callback(lambda _: answering.cancel())
    try:
        return await answering
    except asyncio.CancelledError:
        if leaving.done() and not leaving.cancelled():
            return None
        raise
    finally:
        leaving.cancel()


# The request headers a poll reads, by name (ASGI servers give names in lower case).
_READ = {b"origin": 0, b"host": 1, b"authorization": 2, b"x-forwarded-for": 3}


def _read_headers(raw: list[tuple[bytes, bytes]]) -> list[str | None]:
    """Origin, Host, Authorization and X-Forwarded-For (the last of each, as a dict of them
    would keep): decoding only these costs half of a dict of every header, on every poll."""
    found: list[str | None] = [None, None, None, None]
    for name, value in raw:
        index = _READ.get(name.lower())
        if index is not None:
            found[index] = value.decode("latin-1")
    return found


# The CORS headers last decided for an Origin, for an answer when the database cannot
# decide (it is down): the most recent of them.
_decided: OrderedDict[str, dict[str, str]] = OrderedDict()
DECIDED_ORIGINS = 1024


async def cross_origin_headers(origin: str | None, own: set[str]) -> dict[str, str]:
    """The CORS headers of an answer that bypasses Django's middleware (bot_origins.py decides);
    with the database down, the last decision for this Origin, or none but `Vary`."""
    if not origin:
        return {}
    try:
        headers = await run_db(bot_origins.response_cors_headers, origin, own)
    except DATABASE_DOWN:
        return _decided.get(origin, {"Vary": "Origin"})
    _decided[origin] = headers
    _decided.move_to_end(origin)
    if len(_decided) > DECIDED_ORIGINS:
        _decided.popitem(last=False)
    return headers


def request_origin(scope: Scope) -> tuple[str | None, set[str]]:
    """The request's Origin and, when it has one, this server's own origins."""
    origin, host, _, _ = _read_headers(scope["headers"])
    return origin, bot_origins.own_origins(scope.get("scheme", "http"), host) if origin else set()


def _peer(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def longpoll_app(scope: Scope, receive: Receive, send: Send) -> None:
    origin, host, authorization, forwarded_for = _read_headers(scope["headers"])
    # The client as the rate limits count it (`python -m kore_chat.serve` has already
    # believed the trusted proxies' X-Forwarded-For; other servers have not).
    address = client_address(_peer(scope), forwarded_for)
    # Browsers send no Origin on a same-origin GET: only cross-origin polls need our own
    # origins (to tell them from others), and the database.
    own = bot_origins.own_origins(scope.get("scheme", "http"), host) if origin else set()
    polls = held()
    cross_origin: dict[str, str] | None = None
    try:
        # What no token could change is refused before any work.
        polls.check_room(address)
        await admitted()
        cross_origin = await cross_origin_headers(origin, own)
        token = bearer_token(authorization)
        query = query_params(scope.get("query_string", b"").decode("latin-1"))
        after, wait = poll_params(query)
        if scope["method"] == "HEAD":
            # Nothing to wait for: a HEAD answer has no body to carry messages.
            wait = 0
        # Bots are cached in memory: verifying needs a thread only on a miss.
        principal = token_verify_cached(token)
        if principal is None:
            principal = await run_db(token_verify, token)
        if not bot_origins.origin_allowed(origin, own, principal.bot):
            raise bot_origins.origin_not_allowed()
        # A poll that does not wait is answered at once: it holds nothing.
        holding = polls.holding if wait else _not_held
        with holding((principal.bot.pk, principal.identity), address):
            answer = await _answer_unless_disconnected(receive, poll_answer(principal, after, wait))
    except (ApplicationError, *DATABASE_DOWN) as exc:
        refusal = exc if isinstance(exc, ApplicationError) else database_unavailable()
        error = error_answer(refusal)
        if cross_origin is None:
            cross_origin = await cross_origin_headers(origin, own)
        headers = {**error.headers, **cross_origin}
        if refusal.kind in _CLOSING:
            # Its connection is what the refusal frees.
            headers["Connection"] = "close"
        await send_json(send, error.status, error.body, headers)
        return
    if answer is not None:
        await send_json(send, 200, answer, cross_origin)


@contextmanager
def _not_held(identity: tuple[int, str], address: str) -> Iterator[None]:
    yield


# Refusals whose connection is closed once answered.
_CLOSING = frozenset({Kind.RATE_LIMITED, Kind.UNAVAILABLE})


def answer_django_request(request: HttpRequest) -> HttpResponse:
    """This handler's answer to a poll that came through Django (the development server, the
    test client), given to it as an ASGI server would. Nothing tells it that the client
    left: it answers when its wait ends."""
    scope = {
        "type": "http",
        "method": request.method,
        "path": request.path,
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in request.headers.items()
        ],
        "scheme": request.scheme,
        "client": (request.META.get("REMOTE_ADDR", ""), 0),
    }
    requested = False
    sent: list[Mapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.get_running_loop().create_future()  # never: the client cannot leave
        return {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    async_to_sync(longpoll_app)(scope, receive, send)
    start, body = sent
    response = HttpResponse(body["body"], status=start["status"])
    for raw_name, raw_value in start["headers"]:
        name = raw_name.decode("latin-1")
        # A WSGI application may not set hop-by-hop headers (Connection): its server does.
        if not is_hop_by_hop(name):
            response[name] = raw_value.decode("latin-1")
    return response
