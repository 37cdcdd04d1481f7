"""The long-poll handler in-process, through the same ASGI application the server runs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from kore_chat.asgi import application
from tests.servers import session_uses_postgres
from tests.waiting import async_wait_until
from webclient import services
from webclient.api.longpoll import Snapshot, _snapshot, run_db
from webclient.delivery import waiting
from webclient.delivery.knowledge import Knowledge
from webclient.delivery.notifiers import LISTENER_APPLICATION_NAME, notifier
from webclient.kore.payloads import BotItem
from webclient.models import Bot, Conversation, Message
from webclient.sts import token_issue

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class Call:
    """One GET through the ASGI app, with a client that can hang up."""

    def __init__(self, query: str, token: str | None) -> None:
        headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
        self.scope = {
            "type": "http",
            "method": "GET",
            "path": "/api/v1/messages",
            "query_string": query.encode(),
            "headers": headers,
        }
        self.hang_up = asyncio.Event()
        self.sent: list[dict[str, Any]] = []
        self._requested = False

    async def receive(self) -> dict[str, Any]:
        if not self._requested:
            self._requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(self, event: Mapping[str, Any]) -> None:
        self.sent.append(dict(event))

    async def run_unanswered(self) -> None:
        await application(self.scope, self.receive, self.send)

    async def run(self) -> tuple[int, dict[str, Any]]:
        await self.run_unanswered()
        return self.sent[0]["status"], json.loads(self.sent[1]["body"])


@pytest.fixture
def user() -> tuple[str, Conversation]:
    bot = Bot.objects.get(slug="demo")
    conversation = services.conversation_get_or_create(bot=bot, identity="poller")
    return token_issue(bot=bot, identity="poller", anonymous=False).jwt, conversation


def store(conversation: Conversation, text: str) -> None:
    services.bot_messages_store(conversation=conversation, items=[BotItem(text)])


def test_a_waiting_poll_answers_as_soon_as_a_message_is_stored(user: Any) -> None:
    token, conversation = user

    async def scenario() -> dict[str, Any]:
        poll = asyncio.ensure_future(Call("after=0&wait=20", token).run())
        await async_wait_until(lambda: notifier.waiting() == 1, message="the poll was not held")
        assert not poll.done()
        await asyncio.to_thread(store, conversation, "hi there")
        # Answered long before its wait of 20 s ends: woken, not timed out.
        status, body = await asyncio.wait_for(poll, 10)
        assert status == 200
        return body

    body = asyncio.run(scenario())
    assert [m["text"] for m in body["messages"]] == ["hi there"]
    assert body["cursor"] == body["messages"][0]["id"]


def test_it_answers_at_once_when_messages_wait(user: Any) -> None:
    token, conversation = user
    store(conversation, "one")
    store(conversation, "two")
    started = time.monotonic()
    status, body = asyncio.run(Call("after=0&wait=20", token).run())
    assert status == 200
    assert [m["text"] for m in body["messages"]] == ["one", "two"]
    # Long before its wait of 20 s ends: it did not wait.
    assert time.monotonic() - started < 10
    _, later = asyncio.run(Call(f"after={body['messages'][0]['id']}&wait=0", token).run())
    assert [m["text"] for m in later["messages"]] == ["two"]


def test_it_answers_an_empty_list_when_the_wait_runs_out(user: Any) -> None:
    token, _ = user
    started = time.monotonic()
    status, body = asyncio.run(Call("after=0&wait=1", token).run())
    assert (status, body) == (200, {"messages": [], "cursor": 0, "pending": False})
    # Not before its wait ends (the upper bound only rules out a hang on a loaded machine).
    assert 1 <= time.monotonic() - started < 10


def _threads() -> int:
    """Threads, less the fixed few of PostgreSQL's connection pool and notify listener."""
    fixed = ("pool-", "notify-listener", "redis-listener")
    return sum(not t.name.startswith(fixed) for t in threading.enumerate())


def test_held_polls_hold_no_thread(user: Any, settings: Any) -> None:
    token, conversation = user
    # One identity's 200 polls, as if from 200 tabs.
    settings.LONGPOLL_MAX_PER_IDENTITY = 200
    asyncio.run(Call("after=0&wait=0", token).run())

    async def scenario() -> tuple[int, int]:
        before = _threads()
        polls = [asyncio.ensure_future(Call("after=0&wait=20", token).run()) for _ in range(200)]
        # All held (on a busy machine their first queries may take a few seconds).
        await async_wait_until(lambda: notifier.waiting() == 200, message="not all held")
        during = _threads()
        await asyncio.to_thread(store, conversation, "for everyone")
        answers = await asyncio.wait_for(asyncio.gather(*polls), 10)
        assert all(body["messages"][0]["text"] == "for everyone" for _, body in answers)
        return before, during

    before, during = asyncio.run(scenario())
    # Only the bounded pool that runs the polls' short queries may have grown.
    assert during - before <= 4


def test_a_client_that_hangs_up_stops_waiting(user: Any) -> None:
    token, _ = user

    async def scenario() -> Call:
        call = Call("after=0&wait=30", token)
        poll = asyncio.ensure_future(call.run_unanswered())
        await async_wait_until(lambda: notifier.waiting() == 1, message="the poll was not held")
        call.hang_up.set()
        await asyncio.wait_for(poll, 2)
        return call

    call = asyncio.run(scenario())
    assert call.sent == []
    assert notifier.waiting() == 0


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("after=-1", 400, "invalid_request"),
        ("after=abc", 400, "invalid_request"),
        ("wait=soon", 400, "invalid_request"),
    ],
)
def test_it_rejects_bad_parameters(user: Any, query: str, status: int, code: str) -> None:
    token, _ = user
    got_status, body = asyncio.run(Call(query, token).run())
    assert (got_status, body["error"]["code"]) == (status, code)


def test_it_rejects_a_poll_without_token() -> None:
    status, body = asyncio.run(Call("after=0", None).run())
    assert status == 401
    assert body["error"]["code"] == "invalid_token"


def test_it_caps_the_wait(user: Any, settings: Any) -> None:
    from webclient.api.longpoll import poll_params

    assert poll_params({"wait": "600"}) == (0, settings.LONGPOLL_MAX_WAIT)
    assert poll_params({}) == (0, settings.LONGPOLL_DEFAULT_WAIT)


@pytest.mark.parametrize(
    "query",
    [
        {"after": "0", "wait": "0"},
        {"after": "007", "wait": "25"},
        {"after": str(2**63 - 1)},
        {"after": str(2**63)},
        {"after": "12.0"},
        {"after": " 12"},
        {"after": "-1"},
        {"wait": "²"},
        {"after": ""},
    ],
)
def test_the_quick_parameter_path_agrees_with_the_serializer(
    query: dict[str, str], settings: Any
) -> None:
    from webclient.api.longpoll import poll_params
    from webclient.api.serializers import PollInputSerializer
    from webclient.errors import ApplicationError

    serializer = PollInputSerializer(data=query)
    if not serializer.is_valid():
        with pytest.raises(ApplicationError):
            poll_params(query)
        return
    default = min(settings.LONGPOLL_DEFAULT_WAIT, settings.LONGPOLL_MAX_WAIT)
    expected_wait = serializer.validated_data.get("wait", default)
    assert poll_params(query) == (serializer.validated_data["after"], expected_wait)


def test_an_idle_poll_asks_the_database_one_small_question(user: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from webclient.api.longpoll import Snapshot, _snapshot

    _, conversation = user
    store(conversation, "seen")
    cursor = conversation.messages.get().pk
    services.conversation_update(conversation=conversation, pending=True)
    with CaptureQueriesContext(connection) as queries:
        idle = _snapshot(conversation.bot_id, "poller", cursor)
    assert (idle.messages, idle.pending, len(queries)) == ([], True, 1)
    assert _snapshot(conversation.bot_id, "nobody", 0) == Snapshot([], pending=False)
    assert [m["text"] for m in _snapshot(conversation.bot_id, "poller", 0).messages] == ["seen"]


needs_listener = pytest.mark.skipif(
    not session_uses_postgres(),
    reason="only the PostgreSQL notifier has a listener to cut (the PostgreSQL pass of make"
    " test runs this)",
)


class CountedLooks:
    """The long-poll's own look, counting the queries it makes."""

    def __init__(self, conversation: Conversation, after: int) -> None:
        self.conversation, self.after, self.count = conversation, after, 0

    async def query(self) -> Snapshot:
        self.count += 1
        bot_id, identity = self.conversation.bot_id, self.conversation.identity
        return await run_db(_snapshot, bot_id, identity, self.after)

    @staticmethod
    def current(pending: bool) -> Snapshot:
        return Snapshot([], pending)

    async def wait(self, timeout: float) -> Snapshot:
        channel = self.conversation.channel
        return await waiting.wait_for(channel, self.after, self.query, self.current, timeout)


def listening(not_in: int | None = None) -> int:
    """The notifier's epoch once it knows every change (its listener connected, on a
    connection after `not_in`)."""
    notifier.start()
    deadline = time.monotonic() + 5
    while notifier.knowledge.epoch() in (None, not_in):
        assert time.monotonic() < deadline, "the listener did not connect"
        time.sleep(0.02)
    epoch = notifier.knowledge.epoch()
    assert epoch is not None
    return epoch


def looks_made(conversation: Conversation, after: int, wait: float) -> tuple[int, Snapshot]:
    """How many queries a wait from `after` made, and what it found."""
    looks = CountedLooks(conversation, after)
    found = asyncio.run(looks.wait(wait))
    return looks.count, found


def known(conversation: Conversation, after: int) -> None:
    """Look from `after` until the notifier knows the channel (on PostgreSQL the listener
    hears this process's own commits a moment after they happen, and a look begun before
    that is not trusted)."""
    deadline = time.monotonic() + 2
    while looks_made(conversation, after, 0)[0]:
        assert time.monotonic() < deadline, "the notifier never came to know the channel"
        time.sleep(0.01)


def stored_and_known(conversation: Conversation, text: str) -> int:
    """Store a message, and look until the notifier knows it is the newest: its id."""
    store(conversation, text)
    newest = conversation.messages.get().pk
    known(conversation, newest)
    return newest


def test_an_idle_poll_whose_cursor_is_current_makes_no_query(user: Any) -> None:
    _, conversation = user
    listening()
    newest = stored_and_known(conversation, "the newest")
    # Neither on arrival nor when its wait runs out.
    count, found = looks_made(conversation, newest, 0.2)
    assert (count, found) == (0, Snapshot([], pending=False))
    # A message stored since: a poll from the old cursor looks at once, and finds it.
    store(conversation, "newer still")
    count, found = looks_made(conversation, newest, 5)
    assert (count, [m["text"] for m in found.messages]) == (1, ["newer still"])


def test_a_change_of_pending_alone_is_heard_by_the_polls(user: Any) -> None:
    from datetime import timedelta

    from webclient.kore import outbox

    _, conversation = user
    listening()
    newest = stored_and_known(conversation, "the newest")
    services.conversation_pending_set(conversation=conversation, pending=True)
    assert looks_made(conversation, newest, 0) == (1, Snapshot([], pending=True))
    known(conversation, newest)
    # The stale sweep clears it in one UPDATE for many conversations: each is told.
    Conversation.objects.filter(pk=conversation.pk).update(
        last_activity_at=conversation.last_activity_at - timedelta(hours=1)
    )
    outbox.conversations_settle_stale(idle=timedelta(minutes=1))
    assert looks_made(conversation, newest, 0) == (1, Snapshot([], pending=False))


def test_a_held_poll_is_woken_by_a_change_of_pending_and_answers_it_when_its_wait_ends(
    user: Any,
) -> None:
    _, conversation = user
    listening()
    newest = stored_and_known(conversation, "the newest")

    async def scenario() -> Snapshot:
        looks = CountedLooks(conversation, newest)
        held = asyncio.ensure_future(looks.wait(2.0))
        await async_wait_until(lambda: notifier.waiting() == 1, message="the wait did not begin")
        await asyncio.to_thread(
            services.conversation_pending_set, conversation=conversation, pending=True
        )
        return await held

    # Answered from what the notifier knew before the change, it would say False.
    assert asyncio.run(scenario()) == Snapshot([], pending=True)


def test_what_a_look_found_is_not_kept_when_its_channel_changed_meanwhile() -> None:
    knowledge = Knowledge(authoritative=True)
    token = knowledge.token()
    knowledge.heard("1:someone", 5)
    knowledge.note("1:someone", 5, False, token)
    assert knowledge.current("1:someone", 5) is None
    knowledge.note("1:someone", 5, False, knowledge.token())
    known = knowledge.current("1:someone", 5)
    assert known is not None and known[0] is False
    # Knowing only a newer message, a poll from before it must look.
    assert knowledge.current("1:someone", 4) is None


def test_what_a_look_found_answers_polls_only_until_its_bound_from_when_the_look_began(
    settings: Any,
) -> None:
    knowledge = Knowledge(authoritative=True)
    token = knowledge.token()
    knowledge.note("1:someone", 5, True, token)
    known = knowledge.current("1:someone", 5)
    assert known == (True, token.at + settings.LONGPOLL_KNOWLEDGE_SECONDS)
    # The bound counts from when the look began, however long ago that was.
    knowledge.note("1:other", 7, False, knowledge.token())
    stale = type(token)(token.epoch, token.tick, token.at - settings.LONGPOLL_KNOWLEDGE_SECONDS)
    knowledge.note("1:old", 3, False, stale)
    assert knowledge.current("1:old", 3) is None
    assert knowledge.current("1:other", 7) is not None


@needs_listener
def test_after_the_listener_reconnects_a_poll_looks_again(user: Any) -> None:
    _, conversation = user
    epoch = listening()
    newest = stored_and_known(conversation, "before the cut")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            [LISTENER_APPLICATION_NAME],
        )
    listening(not_in=epoch)
    # What was known before the cut may have missed a notification: it is forgotten, and the
    # next poll looks; what that look finds is known again afterwards.
    assert notifier.knowledge.current(conversation.channel, newest) is None
    assert looks_made(conversation, newest, 0.2)[0] == 1
    assert looks_made(conversation, newest, 0.2)[0] == 0


def test_one_query_tells_many_polls_each_its_own_state(user: Any) -> None:
    from webclient import selectors

    _, conversation = user
    store(conversation, "first")
    first = conversation.messages.get().pk
    other = services.conversation_get_or_create(bot=conversation.bot, identity="other")
    services.conversation_pending_set(conversation=other, pending=True)
    keys = [
        (conversation.bot_id, "poller", 0),
        (conversation.bot_id, "poller", first),
        (conversation.bot_id, "other", 0),
        (conversation.bot_id, "nobody", 0),
        (conversation.bot_id + 1000, "poller", 0),
    ]
    assert selectors.poll_states(keys) == [
        selectors.PollState(newer=True, pending=False),
        selectors.PollState(newer=False, pending=False),
        selectors.PollState(newer=False, pending=True),
        selectors.PollState(newer=False, pending=False),
        selectors.PollState(newer=False, pending=False),
    ]


def test_the_polls_of_one_turn_of_the_event_loop_share_one_query(
    user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webclient import selectors

    _, conversation = user
    bot = conversation.bot
    tokens = [token_issue(bot=bot, identity=f"storm-{n}", anonymous=False).jwt for n in range(20)]
    store(services.conversation_get_or_create(bot=bot, identity="storm-7"), "for seven")
    asked: list[int] = []
    real = selectors.poll_states

    def counted(keys: Any) -> Any:
        asked.append(len(keys))
        return real(keys)

    monkeypatch.setattr(selectors, "poll_states", counted)

    async def storm() -> list[tuple[int, dict[str, Any]]]:
        warm = token_issue(bot=bot, identity="warm", anonymous=False).jwt
        await Call("after=0&wait=0", warm).run()  # the bot is cached from now on
        asked.clear()
        return await asyncio.gather(*(Call("after=0&wait=0", t).run() for t in tokens))

    answers = asyncio.run(storm())
    assert asked == [20]
    texts = [[m["text"] for m in body["messages"]] for _, body in answers]
    assert texts == [["for seven"] if n == 7 else [] for n in range(20)]


# Knowledge lasts LONGPOLL_KNOWLEDGE_SECONDS: what nobody was told of still reaches the polls.
# Each test makes the channel known first, then shortens the bound (so that the test's wait
# is short) and writes a message that notifies nobody: a poll finds it by looking again once
# what it knew ran out, long before its own wait ends.
SHORT_BOUND = 0.2


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"never {what}"
        await asyncio.sleep(0.01)


def test_a_message_written_by_the_orm_reaches_the_next_polls_of_a_known_channel(
    user: Any, settings: Any
) -> None:
    token, conversation = user
    listening()
    newest = stored_and_known(conversation, "known")
    settings.LONGPOLL_KNOWLEDGE_SECONDS = SHORT_BOUND
    Message.objects.create(conversation=conversation, role=Message.Role.BOT, text="by the ORM")
    # The review's reproduction: two polls from the cursor that was current.
    for wait in (30, 0):
        status, body = asyncio.run(Call(f"after={newest}&wait={wait}", token).run())
        assert (status, [m["text"] for m in body["messages"]]) == (200, ["by the ORM"])


def test_a_held_poll_looks_again_when_what_it_knew_runs_out(user: Any, settings: Any) -> None:
    _, conversation = user
    listening()
    newest = stored_and_known(conversation, "known")
    settings.LONGPOLL_KNOWLEDGE_SECONDS = SHORT_BOUND

    async def scenario() -> tuple[int, Snapshot]:
        looks = CountedLooks(conversation, newest)
        held = asyncio.ensure_future(looks.wait(30))
        await until(lambda: looks.count >= 2, "looked again while held")
        await asyncio.to_thread(
            Message.objects.create, conversation=conversation, role="bot", text="unheard"
        )
        return looks.count, await asyncio.wait_for(held, 25)

    looked, found = asyncio.run(scenario())
    assert looked >= 2
    assert [m["text"] for m in found.messages] == ["unheard"]


def test_a_lost_notification_still_reaches_a_held_poll(
    user: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, conversation = user
    listening()
    newest = stored_and_known(conversation, "known")
    settings.LONGPOLL_KNOWLEDGE_SECONDS = SHORT_BOUND
    # The services store as ever; the notification is lost on its way.
    monkeypatch.setattr(notifier, "stored", lambda channel, message_id: None)

    async def scenario() -> tuple[int, dict[str, Any]]:
        poll = asyncio.ensure_future(Call(f"after={newest}&wait=30", token).run())
        await until(lambda: notifier.waiting() == 1, "held")
        await asyncio.to_thread(store, conversation, "not announced")
        return await asyncio.wait_for(poll, 25)

    status, body = asyncio.run(scenario())
    assert (status, [m["text"] for m in body["messages"]]) == (200, ["not announced"])


def _this_database_env() -> dict[str, str]:
    """The environment of a `manage.py` process that works on this test's database."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        env["DB_PATH"] = str(Path(name))
        env.pop("DATABASE_URL", None)
    else:
        env["DATABASE_URL"] = urlunsplit(urlsplit(env["DATABASE_URL"])._replace(path=f"/{name}"))
    return env


def test_a_message_inserted_by_a_manage_py_shell_reaches_a_held_poll(
    user: Any, settings: Any
) -> None:
    token, conversation = user
    listening()
    newest = stored_and_known(conversation, "known")
    settings.LONGPOLL_KNOWLEDGE_SECONDS = SHORT_BOUND
    code = (
        "from webclient.models import Conversation, Message\n"
        f"conversation = Conversation.objects.get(pk={conversation.pk})\n"
        "Message.objects.create(conversation=conversation, role='bot', text='from a shell')\n"
    )

    async def scenario() -> tuple[int, dict[str, Any]]:
        poll = asyncio.ensure_future(Call(f"after={newest}&wait=30", token).run())
        await until(lambda: notifier.waiting() == 1, "held")
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=Path(__file__).resolve().parents[2],
            env=_this_database_env(),
            check=True,
        )
        return await asyncio.wait_for(poll, 25)

    status, body = asyncio.run(scenario())
    assert (status, [m["text"] for m in body["messages"]]) == (200, ["from a shell"])


@pytest.mark.parametrize("value", ["0", "-1", "soon", "3601"])
def test_a_knowledge_bound_that_is_not_a_positive_number_of_seconds_stops_the_settings(
    value: str,
) -> None:
    env = {**_this_database_env(), "LONGPOLL_KNOWLEDGE_SECONDS": value}
    done = subprocess.run(
        [sys.executable, "-c", "import kore_chat.settings"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "ImproperlyConfigured: LONGPOLL_KNOWLEDGE_SECONDS must be" in done.stderr


def test_through_django_a_poll_is_answered_by_the_long_poll_handler(user: Any) -> None:
    from django.test import Client

    token, conversation = user
    store(conversation, "seen")
    cursor = conversation.messages.get().pk
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    answered: list[Any] = []
    # A HEAD does not wait, whatever `wait` says (the handler's rule, which DRF's view lacked).
    target = f"/api/v1/messages?after={cursor}&wait=45"
    head = threading.Thread(target=lambda: answered.append(client.head(target)))
    head.start()
    head.join(20)
    assert [a.status_code for a in answered] == [200]
    got = client.get("/api/v1/messages?after=0&wait=0")
    assert got.status_code == 200
    assert [m["text"] for m in got.json()["messages"]] == ["seen"]
    assert got.headers["Cache-Control"] == "no-store"
    refused = Client().get("/api/v1/messages?after=0")
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "invalid_token")
