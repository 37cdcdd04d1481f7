"""The emulator over HTTP, in process, driven by Kore's documented requests: each of its
answers (sync, poll, acknowledgement, POST_URL body, closure, form, error) has the keys and
value types of the matching documented example, no more and no fewer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulator.test_emulator import USER, channel, poll, say, send, token
from tests.emulator.test_emulator_callbacks import Receiver, async_channel
from tests.kore.conformance.kore_docs import (
    assert_documented_shape,
    body,
    documented_shape_problems,
    form_problems,
    names,
)
from webclient.emulator.callbacks import dispatcher
from webclient.emulator.faults import injector
from webclient.emulator.state import state

pytestmark = pytest.mark.django_db
SYNC_ANSWERS = names("v2_sync_response")


@pytest.fixture(autouse=True)
def fresh_emulator() -> Any:
    state.reset()
    injector.clear()
    yield
    injector.clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A loopback POST_URL (the emulator's callback tests' own receiver)."""
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    dispatcher.wait_idle(10)
    server.shutdown()
    server.server_close()


def as_sent(name: str) -> dict[str, Any]:
    request = body(name)
    request["from"]["id"] = USER
    return request


def assert_like_one_of(answer: dict[str, Any], candidates: list[str]) -> None:
    """The answer has the shape of at least one documented example."""
    problems = {name: documented_shape_problems(answer, name) for name in candidates}
    assert any(not found for found in problems.values()), problems


@pytest.mark.parametrize("name", names("v1_request"))
def test_each_documented_v1_request_gets_the_documented_v1_sync_answer(name: str) -> None:
    response = send(channel(1), as_sent(name))
    assert response.status_code == 200
    assert_documented_shape(response.json(), "v1_sync_response")


@pytest.mark.parametrize("name", names("v2_request"))
def test_each_documented_v2_request_gets_a_documented_v2_sync_answer(name: str) -> None:
    request = as_sent(name)
    response = send(channel(2), request)
    assert response.status_code == 200
    if request["message"]["val"] == "SESSION_CLOSURE":
        assert_documented_shape(response.json(), "v2_session_closure_ignored")
    else:
        assert_like_one_of(response.json(), SYNC_ANSWERS)


def test_closing_an_open_session_gets_the_documented_success_answer() -> None:
    webhook = channel(2)
    assert say(webhook, "hello").status_code == 200
    answer = send(webhook, as_sent("v2_session_closure_request")).json()
    assert_documented_shape(answer, "v2_session_closure_success")
    assert answer["data"][0]["eventType"] == "SESSION_CLOSURE_SUCCESS"


def poll_until_done(webhook: Any, poll_id: str, timeout: float = 10) -> list[dict[str, Any]]:
    """Every poll answer until one carries no pollId; Inprogress answers included."""
    answers: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = poll(webhook, poll_id).json()
        answers.append(answer)
        if answer.get("status") == "Inprogress":
            time.sleep(0.05)
            continue
        if "pollId" not in answer:
            return answers
        poll_id = answer["pollId"]
    raise AssertionError(f"the poll chain did not end within {timeout}s: {answers}")


def test_a_polled_answer_has_the_documented_shape_at_every_step() -> None:
    webhook = channel(2)
    # Halfway after 1 s: the first poll, made at once, finds the work still running.
    first = say(webhook, "slow 2").json()
    assert_documented_shape(first, "v2_sync_response_with_poll_id")
    pending = poll(webhook, first["pollId"]).json()
    assert_documented_shape(pending, "v2_poll_inprogress")
    answers = poll_until_done(webhook, first["pollId"])
    for answer in answers[:-1]:
        if answer.get("status") == "Inprogress":
            assert_documented_shape(answer, "v2_poll_inprogress")
        else:
            assert_documented_shape(answer, "v2_sync_response_with_poll_id")
    # "The response format will be the same [as] the regular response."
    assert_like_one_of(answers[-1], ["v2_poll_complete", *SYNC_ANSWERS])


def test_a_delivered_poll_asked_again_gets_the_documented_no_data_found() -> None:
    webhook = channel(2)
    first = say(webhook, "slow 1").json()
    poll_until_done(webhook, first["pollId"])
    again = poll(webhook, first["pollId"])
    assert again.status_code == 400
    assert_documented_shape(again.json(), "error_poll_no_data_found")
    assert again.json()["errors"] == [{"msg": "No data found", "code": 400}]


def test_with_polling_off_a_slow_answer_comes_whole_in_a_documented_shape() -> None:
    webhook = channel(2)
    webhook.polling = False
    webhook.save()
    answer = say(webhook, "slow 1").json()
    assert "pollId" not in answer
    assert_like_one_of(answer, SYNC_ANSWERS)


@pytest.mark.parametrize(
    ("command", "name"),
    [("fail 400", "error_400"), ("fail 429", "error_429"), ("fail 504", "error_504")],
)
def test_each_error_the_demo_bot_can_cause_has_the_documented_body(command: str, name: str) -> None:
    response = say(channel(2), command)
    assert response.status_code == int(name.removeprefix("error_"))
    assert_documented_shape(response.json(), name)


def test_a_bad_token_gets_the_documented_401_body() -> None:
    webhook = channel(2)
    response = send(webhook, as_sent("v2_on_connect_request"), bearer="not-a-jwt")
    assert response.status_code == 401
    assert_documented_shape(response.json(), "error_401")


def test_a_jti_token_living_longer_than_an_hour_gets_kores_jti_error() -> None:
    webhook = channel(2)
    now = int(time.time())
    long_lived = token(webhook, jti="j-long", iat=now, exp=now + 7200)
    response = send(webhook, as_sent("v2_on_connect_request"), bearer=long_lived)
    assert response.status_code == 401
    assert_documented_shape(response.json(), "jti_error_lifetime")
    assert response.json()["errors"][0]["msg"].startswith('error verifying the jwt: if "jti"')


def test_a_replayed_jti_gets_kores_replay_error() -> None:
    webhook = channel(2)
    once = token(webhook, jti="j-once")
    assert send(webhook, as_sent("v2_on_connect_request"), bearer=once).status_code == 200
    replayed = send(webhook, as_sent("v2_on_connect_request"), bearer=once)
    assert replayed.status_code == 401
    assert_documented_shape(replayed.json(), "jti_error_replay")
    assert replayed.json()["errors"][0]["msg"] == "error verifying the jwt: possibly a replay"


# Digital Forms


def test_a_v1_form_answer_has_the_documented_top_level_form() -> None:
    answer = say(channel(1), "form").json()
    assert form_problems(answer.get("form")) == []
    assert type(answer["text"]) in (str, dict, list)


def test_a_v2_form_answer_carries_the_form_at_the_top_level_beside_data() -> None:
    answer = say(channel(2), "form").json()
    assert form_problems(answer.get("form")) == []
    assert not [
        item for item in answer["data"] if isinstance(item["val"], dict) and "form" in item["val"]
    ]
    assert_like_one_of({k: v for k, v in answer.items() if k != "form"}, SYNC_ANSWERS)


# Asynchronous mode


def test_the_v2_acknowledgement_and_post_url_bodies_are_the_documented_ones(
    receiver: Receiver,
) -> None:
    webhook = async_channel(2, receiver)
    ack = say(webhook, "hello")
    assert ack.status_code == 200
    assert_documented_shape(ack.json(), "v2_async_ack")
    assert dispatcher.wait_idle(10)
    messages = [posted for posted in receiver.bodies if "data" in posted]
    assert messages, receiver.bodies
    for posted in messages:
        assert_documented_shape(posted, "v2_async_callback")


def test_the_v1_acknowledgement_is_an_empty_200(receiver: Receiver) -> None:
    webhook = async_channel(1, receiver)
    ack = say(webhook, "hello")
    assert ack.status_code == 200
    assert ack.content == b""


def test_the_v1_post_url_bodies_are_the_documented_one_and_the_task_end_comes_apart(
    receiver: Receiver,
) -> None:
    webhook = async_channel(1, receiver)
    assert say(webhook, "hello").status_code == 200
    assert dispatcher.wait_idle(10)
    with_text = [posted for posted in receiver.bodies if "text" in posted]
    assert [posted["text"] for posted in with_text] == ["Hello! Nice to meet you."]
    for posted in with_text:
        assert_documented_shape(posted, "v1_async_callback")
    task_ends = [posted for posted in receiver.bodies if "endOfTask" in posted]
    assert [posted.get("completedTaskName") for posted in task_ends] == ["Greeting"]
    assert all("text" not in posted for posted in task_ends)
