"""The checks themselves, against Kore's own examples: every documented request passes the
validator of its version, every documented answer matches itself, and what Kore's tables
forbid is refused (so that the checks can fail)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kore.conformance.kore_docs import (
    FIXTURES,
    body,
    documented_shape_problems,
    fixture,
    names,
    request_problems,
)

V1_REQUESTS = names("v1_request")
V2_REQUESTS = names("v2_request")


def test_every_fixture_names_its_source_and_kind() -> None:
    for path in FIXTURES.glob("*.json"):
        loaded = fixture(path.stem)
        assert set(loaded["source"]) == {"repo", "path", "heading"}, path.name
        assert loaded["source"]["repo"] in ("Koredotcom/docs", "Koredotcom/docs-v2")
        assert loaded["kind"] and loaded["notes"], path.name
        assert "body" in loaded, path.name


@pytest.mark.parametrize("name", V1_REQUESTS)
def test_each_documented_v1_request_passes_the_v1_table(name: str) -> None:
    assert request_problems(body(name), 1) == []


@pytest.mark.parametrize("name", V2_REQUESTS)
def test_each_documented_v2_request_passes_the_v2_table(name: str) -> None:
    assert request_problems(body(name), 2) == []


def test_the_v1_custom_data_snippet_fits_into_the_v1_sample() -> None:
    request = {**body("v1_request_sample"), **body("v1_request_custom_data")}
    assert request_problems(request, 1) == []


def test_the_documented_form_answer_is_made_of_the_documented_form_parts() -> None:
    form = body("form_response")["form"]
    assert form == {"formDef": body("form_def"), "formInitialization": body("form_initialization")}


ANSWERS = names(
    "v1_sync_response",
    "v1_async_callback",
    "v2_sync_response",
    "v2_sync_response_with_poll_id",
    "v2_poll_inprogress",
    "v2_poll_complete",
    "v2_session_closure_response",
    "v2_async_ack",
    "v2_async_callback",
    "form_response",
    "error",
)


@pytest.mark.parametrize("name", ANSWERS)
def test_each_documented_answer_matches_its_own_shape(name: str) -> None:
    assert documented_shape_problems(body(name), name) == []


def with_message(version: int, **message: Any) -> dict[str, Any]:
    sample = body("v1_request_sample" if version == 1 else "v2_on_connect_request")
    sample["message"] = message
    return sample


@pytest.mark.parametrize(
    ("version", "sent", "problem"),
    [
        (1, with_message(1), "message.text is required"),
        (1, with_message(1, type="event", val="ON_CONNECT"), "message.text is required"),
        (1, {**body("v1_request_sample"), "interactiveLanguage": "fr"}, "'interactiveLanguage'"),
        (1, {**body("v1_request_sample"), "metaTags": {}}, "top-level key 'metaTags'"),
        (1, with_message(1, text="x", attachments=["https://x/y.png"]), "documents objects"),
        (2, with_message(2, type="text"), "message.val is required"),
        (2, with_message(2, type="chat", val="x"), "is not one of"),
        (2, with_message(2, type="event", val="ON_DISCONNECT"), "not a documented event"),
        (2, with_message(2, type="text", val="", attachments=[{"url": "https://x"}]), "blank"),
        (2, with_message(2, type="template", val={}, attachments=[{"url": "u"}]), "must be text"),
        (2, with_message(2, type="text", val="x", attachments=[{"name": "n"}]), "'name'"),
        (2, with_message(2, type="formData", val={"data": []}), "formId is missing"),
        (2, {**body("v2_on_connect_request"), "from": {}}, "from.id is required"),
        (2, {**body("v2_on_connect_request"), "session": {"new": "yes"}}, "session.new"),
        (2, {**body("v2_on_connect_request"), "isAnonymous": True}, "'isAnonymous'"),
    ],
)
def test_what_kores_tables_forbid_is_refused(
    version: int, sent: dict[str, Any], problem: str
) -> None:
    problems = request_problems(sent, version)
    assert any(problem in found for found in problems), problems


def test_a_body_with_an_added_or_missing_key_does_not_match_the_documented_shape() -> None:
    callback = body("v2_async_callback")
    callback["to"] = "alice"
    del callback["data"][0]["createdOn"]
    assert documented_shape_problems(callback, "v2_async_callback") == [
        ".to is not documented",
        ".data[0].createdOn is missing",
    ]
    wrong_type = documented_shape_problems({"text": 5}, "v1_sync_response")
    assert ".text is a number, documented as ['string', 'object', 'array']" in wrong_type
