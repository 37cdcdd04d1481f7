"""Kore wire shapes, in process: request bodies per version and every documented answer shape."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest

from webclient.kore.payloads import callback_user, parse_answer, parse_item, request_body
from webclient.models import Bot, Conversation, Message

BUTTON = {
    "type": "template",
    "payload": {
        "template_type": "button",
        "text": "Pick one",
        "buttons": [{"type": "postback", "title": "Buy", "payload": "BUY", "value": "BUY"}],
    },
}
FORM = {"formDef": {"_id": "frm-1", "components": []}, "formInitialization": {"valueMap": {}}}


def items(body: dict[str, Any]) -> list[Any]:
    return [item.item for item in parse_answer(body).items]


def make_bot(version: int, **fields: Any) -> Bot:
    return Bot(slug="b", bot_id="st-1", client_id="cs-1", api_version=version, **fields)


def outgoing(version: int, sent: dict[str, Any], started: bool = True, **bot: Any) -> Any:
    conversation = Conversation(identity="alice", session_started=started)
    return request_body(make_bot(version, **bot), conversation, Message(data=sent))


# Answers: V1 `text`


def test_a_v1_text_string_is_one_message() -> None:
    assert items({"text": "Hello"}) == ["Hello"]


def test_a_v1_text_object_is_one_message() -> None:
    assert items({"text": {"text": "Welcome"}}) == [{"text": "Welcome"}]


def test_a_v1_text_array_keeps_its_order_and_mixes_strings_and_objects() -> None:
    assert items({"text": ["one", {"text": "two"}, "three"]}) == ["one", {"text": "two"}, "three"]


def test_a_json_string_item_is_parsed_into_its_template() -> None:
    assert items({"text": json.dumps(BUTTON)}) == [BUTTON]


def test_an_html_entity_escaped_json_string_is_parsed_too() -> None:
    escaped = html.escape(json.dumps(BUTTON), quote=True)
    assert "&quot;" in escaped
    assert items({"text": [escaped, "after"]}) == [BUTTON, "after"]


def test_text_that_only_looks_like_json_stays_text() -> None:
    assert parse_item("{not json at all}") == "{not json at all}"
    assert parse_item("[1, 2]") == "[1, 2]"
    assert parse_item("  plain  ") == "  plain  "


def test_empty_and_null_items_are_dropped() -> None:
    assert items({"text": ["", None, "x"]}) == ["x"]
    assert items({"text": ""}) == []


def test_a_v1_form_travels_with_the_text_that_introduces_it() -> None:
    assert items({"text": "Please fill in", "form": FORM}) == [
        {"text": "Please fill in", "form": FORM}
    ]


def test_a_v1_form_without_text_is_a_message_of_its_own() -> None:
    assert items({"form": FORM}) == [{"form": FORM}]


def test_a_form_without_form_def_is_ignored() -> None:
    assert items({"text": "x", "form": {"formInitialization": {}}}) == ["x"]


def test_task_end_fields_are_kept_and_a_task_end_only_body_has_no_messages() -> None:
    body = {
        "to": "alice",
        "from": "st-1",
        "endOfTask": True,
        "endReason": "Fulfilled",
        "completedTaskId": "dg-1",
        "completedTaskName": "Greeting",
    }
    answer = parse_answer(body)
    assert answer.items == []
    assert answer.task_state == {
        "endOfTask": True,
        "endReason": "Fulfilled",
        "completedTaskId": "dg-1",
        "completedTaskName": "Greeting",
    }


# Answers: V2 `data`


def test_v2_string_and_object_vals_keep_their_message_ids() -> None:
    answer = parse_answer(
        {
            "data": [
                {"type": "text", "val": "Hi", "messageId": "ms-1", "createdOn": "x"},
                {"type": "text", "val": BUTTON, "messageId": "ms-2"},
                {"type": "text", "val": json.dumps(BUTTON), "messageId": "ms-3"},
            ],
            "_v": "v2",
        }
    )
    assert [(i.item, i.platform_message_id) for i in answer.items] == [
        ("Hi", "ms-1"),
        (BUTTON, "ms-2"),
        (BUTTON, "ms-3"),
    ]


def test_a_v2_val_array_gives_each_part_its_own_id() -> None:
    answer = parse_answer({"data": [{"val": ["a", "b"], "messageId": "ms-9"}]})
    assert [i.platform_message_id for i in answer.items] == ["ms-9", "ms-9#1"]


def test_a_v2_form_val_is_one_message() -> None:
    val = {"form": FORM, "text": "Please fill in"}
    assert items({"data": [{"type": "text", "val": val, "messageId": "ms-1"}]}) == [val]


def test_v2_event_items_are_signals_not_messages() -> None:
    answer = parse_answer(
        {
            "data": [
                {"type": "event", "eventType": "SESSION_CLOSURE_SUCCESS", "val": "Closed."},
            ],
            "endOfTask": True,
        }
    )
    assert answer.items == []
    assert answer.events == ["SESSION_CLOSURE_SUCCESS"]


def test_a_v2_answer_with_an_empty_data_list_and_a_poll_id_waits_for_more() -> None:
    answer = parse_answer({"data": [], "pollId": "a" * 32, "_v": "v2"})
    assert (answer.items, answer.poll_id, answer.in_progress) == ([], "a" * 32, False)


def test_an_inprogress_poll_answer_is_recognised() -> None:
    answer = parse_answer({"status": "Inprogress", "pollId": "b" * 32, "_v": "v2"})
    assert answer.in_progress and answer.poll_id == "b" * 32 and answer.items == []


def test_async_acknowledgements_carry_nothing() -> None:
    for ack in ({"status": "ok"}, {"status": "ok", "_v": "v2", "traceId": "RTM-TRACE-X"}):
        answer = parse_answer(ack)
        assert (answer.items, answer.poll_id, answer.in_progress) == ([], None, False)


def test_junk_entries_do_not_break_parsing() -> None:
    assert items({"data": [None, 3, "x", {"val": None}, {"val": "ok"}]}) == ["ok"]


@pytest.mark.parametrize(
    ("body", "user"),
    [
        ({"to": "alice"}, "alice"),
        ({"to": {"id": "bob"}}, "bob"),
        ({"data": []}, None),
        ({"to": ""}, None),
        ({"to": 5}, None),
    ],
)
def test_the_callbacks_recipient_is_read_from_to(body: dict[str, Any], user: str | None) -> None:
    assert callback_user(body) == user


# Requests


@pytest.mark.parametrize(
    ("sent", "v1", "v2"),
    [
        ({"text": "hi"}, {"text": "hi"}, {"type": "text", "val": "hi"}),
        (
            {"postback": {"payload": "BUY", "title": "Buy now"}},
            {"text": "BUY"},
            {"type": "text", "val": "BUY"},
        ),
        (
            {"formData": {"formId": "frm-1", "data": [{"componentId": "fct-1", "input": "x"}]}},
            {
                "text": "",
                "formData": {
                    "formId": "frm-1",
                    "data": [{"componentId": "fct-1", "input": "x"}],
                    "meta": {},
                },
            },
            {
                "type": "formData",
                "val": {
                    "formId": "frm-1",
                    "data": [{"componentId": "fct-1", "input": "x"}],
                    "meta": {},
                },
            },
        ),
        (
            {"event": "ON_CONNECT"},
            {"type": "event", "val": "ON_CONNECT"},
            {"type": "event", "val": "ON_CONNECT"},
        ),
        (
            {"event": "SESSION_CLOSURE"},
            {"type": "event", "val": "SESSION_CLOSURE"},
            {"type": "event", "val": "SESSION_CLOSURE"},
        ),
    ],
)
def test_each_kind_of_user_message_has_each_versions_shape(
    sent: dict[str, Any], v1: dict[str, Any], v2: dict[str, Any]
) -> None:
    assert outgoing(1, sent)["message"] == v1
    assert outgoing(2, sent)["message"] == v2


def test_from_is_the_users_identity_and_session_new_until_it_started() -> None:
    body = outgoing(2, {"text": "hi"}, started=False)
    assert body["from"]["id"] == "alice"
    assert body["to"]["id"] == "st-1"
    assert body["session"] == {"new": True}
    assert outgoing(2, {"text": "hi"}, started=True)["session"] == {"new": False}


def test_custom_data_meta_tags_and_merge_identity_go_along_only_when_configured() -> None:
    plain = outgoing(1, {"text": "hi"})
    assert not {"customData", "metaTags", "mergeIdentity"} & set(plain)
    configured = outgoing(
        2,
        {"text": "hi"},
        custom_data={"plan": "gold"},
        meta_tags={"userLevelTags": [{"name": "vip", "value": "yes"}]},
        merge_identity=True,
    )
    assert configured["customData"] == {"plan": "gold"}
    assert configured["metaTags"] == {"userLevelTags": [{"name": "vip", "value": "yes"}]}
    assert configured["mergeIdentity"] is True
