"""Every answer Kore documents, read by the relay: `parse_answer` on each sync, poll, POST_URL
and session-closure example and on the Digital Forms answer; the HTTP client on the V1
asynchronous acknowledgement (no body) and on each documented error body, served by a
loopback server that answers exactly what Kore's docs show."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.kore.conformance.kore_docs import body, fixture, names
from webclient.kore.client import KoreClient, KoreError
from webclient.kore.payloads import Answer, callback_user, parse_answer
from webclient.models import Bot

TASK_FIELDS = ("endOfTask", "endReason", "completedTaskId", "completedTaskName")


def texts(answer: Answer) -> list[Any]:
    return [item.item for item in answer.items]


def task_state(documented: dict[str, Any]) -> dict[str, Any]:
    return {key: documented[key] for key in TASK_FIELDS if key in documented}


def test_the_v1_sync_answer_gives_each_text_and_the_task_state() -> None:
    documented = body("v1_sync_response")
    answer = parse_answer(documented)
    assert texts(answer) == documented["text"]
    assert answer.task_state == task_state(documented)
    assert (answer.poll_id, answer.in_progress, answer.events) == (None, False, [])


def test_the_v1_post_url_body_gives_its_text_and_names_its_user() -> None:
    documented = body("v1_async_callback")
    answer = parse_answer(documented)
    assert texts(answer) == [documented["text"]]
    assert answer.task_state == {}
    assert callback_user(documented) == "john.doe@kore.com"


@pytest.mark.parametrize("name", names("v2_sync_response", "v2_poll_complete"))
def test_each_v2_answer_gives_each_message_with_its_id_and_the_task_state(name: str) -> None:
    documented = body(name)
    answer = parse_answer(documented)
    assert texts(answer) == [entry["val"] for entry in documented["data"]]
    assert [item.platform_message_id for item in answer.items] == [
        entry["messageId"] for entry in documented["data"]
    ]
    assert answer.task_state == task_state(documented)
    assert (answer.poll_id, answer.in_progress) == (None, False)


def test_the_v2_answer_with_a_poll_id_gives_its_messages_and_the_poll_id() -> None:
    documented = body("v2_sync_response_with_poll_id")
    answer = parse_answer(documented)
    assert texts(answer) == ["Sample message for Message0013"]
    assert answer.poll_id == "a69b1077c3541e76253be58aa340950b"
    assert answer.in_progress is False


def test_the_inprogress_poll_answer_is_in_progress_with_its_poll_id_and_no_message() -> None:
    answer = parse_answer(body("v2_poll_inprogress"))
    assert answer.in_progress is True
    assert answer.poll_id == "a89627d5b85ba70257871bxxxxxxxxxe"
    assert (answer.items, answer.task_state) == ([], {})


@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("v2_session_closure_success", "SESSION_CLOSURE_SUCCESS"),
        ("v2_session_closure_ignored", "SESSION_CLOSURE_IGNORED"),
    ],
)
def test_each_session_closure_answer_is_an_event_not_a_message(name: str, event: str) -> None:
    answer = parse_answer(body(name))
    assert answer.events == [event]
    assert answer.items == []


def test_the_v2_post_url_body_gives_its_message_without_an_id_and_names_no_user() -> None:
    documented = body("v2_async_callback")
    answer = parse_answer(documented)
    assert texts(answer) == ["Please provide your account number"]
    assert answer.items[0].platform_message_id is None
    assert callback_user(documented) is None


def test_the_v2_asynchronous_acknowledgement_carries_nothing_to_show() -> None:
    answer = parse_answer(body("v2_async_ack"))
    assert (answer.items, answer.events, answer.poll_id, answer.in_progress) == (
        [],
        [],
        None,
        False,
    )


def forms_in(answer: Answer) -> list[Any]:
    return [
        item.item["form"]
        for item in answer.items
        if isinstance(item.item, dict) and "form" in item.item
    ]


def test_the_digital_forms_answer_gives_one_item_that_carries_the_form() -> None:
    documented = body("form_response")
    assert forms_in(parse_answer(documented)) == [documented["form"]]


def test_a_v2_form_beside_data_is_not_lost_and_neither_are_the_messages() -> None:
    # Kore prints the form at the top level of the answer ({"text": [], "form": …}); a V2
    # answer has `data` there, so the form comes beside it.
    documented = body("v2_sync_response")
    form = body("form_response")["form"]
    answer = parse_answer({**documented, "form": form})
    assert forms_in(answer) == [form]
    shown = [
        item.item.get("text") if isinstance(item.item, dict) else item.item for item in answer.items
    ]
    for entry in documented["data"]:
        assert entry["val"] in shown


# Over HTTP: a loopback server that answers exactly what Kore's docs show.


class Platform(ThreadingHTTPServer):
    def __init__(self, status: int, content: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _Answer)
        self.status = status
        self.content = content

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Answer(BaseHTTPRequestHandler):
    server: Platform

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(self.server.status)
        if self.server.content:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.content)))
        self.end_headers()
        self.wfile.write(self.server.content)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def serving(status: int, documented: Any) -> Iterator[Platform]:
    content = b"" if documented is None else json.dumps(documented).encode()
    server = Platform(status, content)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def credentials(bot: Bot) -> Any:
    """What the client signs its calls with: per-call `Credentials` where upstream tokens are
    made per call (webclient/kore/tokens.py), else the one token the older client takes."""
    try:
        tokens = importlib.import_module("webclient.kore.tokens")
    except ModuleNotFoundError:
        return "token"
    return tokens.Credentials(bot, "alice")


def send_to(server: Platform, version: int, mode: str = Bot.Mode.SYNC) -> dict[str, Any]:
    bot = Bot(
        slug="b",
        bot_id="st-1",
        client_id="cs-1",
        client_secret="s3cret-" * 6,
        api_version=version,
        mode=mode,
        upstream_url=server.url,
    )
    # An asynchronous bot's send is an acknowledgement, where the client takes that flag.
    flag = "acknowledgement"
    acknowledging = flag in inspect.signature(KoreClient.send).parameters
    extra = {flag: True} if acknowledging and mode == Bot.Mode.ASYNC else {}

    async def call() -> dict[str, Any]:
        client = KoreClient()
        try:
            return await client.send(bot, {"message": {"text": "hi"}}, credentials(bot), **extra)
        finally:
            await client.aclose()

    return asyncio.run(call())


@pytest.fixture
def loopback_platform(settings: Any) -> None:
    settings.KORE_ALLOW_LOOPBACK_UPSTREAM = True
    settings.KORE_MAX_RETRIES = 0


@pytest.mark.usefixtures("loopback_platform")
def test_the_v1_asynchronous_acknowledgement_without_a_body_is_an_accepted_forward() -> None:
    documented = fixture("v1_async_ack")
    assert documented["body"] is None
    with serving(documented["status"], None) as server:
        answer = parse_answer(send_to(server, 1, Bot.Mode.ASYNC))
        assert (answer.items, answer.poll_id, answer.in_progress) == ([], None, False)


@pytest.mark.usefixtures("loopback_platform")
def test_the_v2_asynchronous_acknowledgement_is_an_accepted_forward() -> None:
    documented = fixture("v2_async_ack")
    with serving(documented["status"], documented["body"]) as server:
        assert parse_answer(send_to(server, 2, Bot.Mode.ASYNC)).items == []


@pytest.mark.usefixtures("loopback_platform")
@pytest.mark.parametrize("name", names("error"))
def test_each_documented_error_is_a_failure_with_its_status_and_kores_message(name: str) -> None:
    documented = fixture(name)
    with serving(documented["status"], documented["body"]) as server:
        with pytest.raises(KoreError) as raised:
            send_to(server, 2)
        assert raised.value.status == documented["status"]
        assert str(raised.value) == documented["body"]["errors"][0]["msg"]
        assert raised.value.no_data is (name == "error_poll_no_data_found")
