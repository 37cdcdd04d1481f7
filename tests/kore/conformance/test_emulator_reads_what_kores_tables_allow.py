"""The emulator's request reader against Kore's examples and tables: every documented request
of a version is read, and what the version's table forbids is refused as Kore refuses it
(400 "Invalid Request Payload")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kore.conformance.kore_docs import body, names, request_problems
from webclient.emulator.inbound import InvalidPayload, parse

USER = "user-42"


def as_sent(name: str) -> dict[str, Any]:
    """A documented request with its (sometimes blank, placeholder) from.id set to a user."""
    request = body(name)
    request["from"]["id"] = USER
    return request


@pytest.mark.parametrize("name", names("v1_request"))
def test_each_documented_v1_request_is_read(name: str) -> None:
    request = as_sent(name)
    inbound = parse(request, 1)
    assert inbound.user_id == USER
    if "formData" in request["message"]:
        assert (inbound.kind, inbound.form_data) == ("form", request["message"]["formData"])
    else:
        assert (inbound.kind, inbound.text) == ("text", request["message"]["text"])


@pytest.mark.parametrize("name", names("v2_request"))
def test_each_documented_v2_request_is_read(name: str) -> None:
    request = as_sent(name)
    inbound = parse(request, 2)
    assert inbound.user_id == USER
    assert inbound.new_session is request.get("session", {}).get("new", False)
    kind, val = request["message"]["type"], request["message"]["val"]
    expected = {"text": "text", "event": "event", "formData": "form"}[kind]
    assert inbound.kind == expected
    if kind == "formData":
        assert inbound.form_data == val
    else:
        assert inbound.text == val


def v1(**message: Any) -> dict[str, Any]:
    return {"message": message, "from": {"id": USER}}


def v2(**message: Any) -> dict[str, Any]:
    return {"message": message, "from": {"id": USER}}


REFUSED = [
    pytest.param(1, v1(), id="v1-without-message-text"),
    pytest.param(1, v1(type="event", val="ON_CONNECT"), id="v1-on-connect-event"),
    pytest.param(1, v1(type="event", val="SESSION_CLOSURE"), id="v1-session-closure-event"),
    pytest.param(1, v1(text="see", attachments=["https://x.test/a.png"]), id="v1-url-strings"),
    pytest.param(
        2,
        v2(type="text", val="", attachments=[{"url": "https://x.test/a.png"}]),
        id="v2-blank-val-with-attachments",
    ),
    pytest.param(
        2,
        v2(type="text", val="  ", attachments=[{"fileId": "f1"}]),
        id="v2-whitespace-val-with-attachments",
    ),
    pytest.param(
        2,
        v2(type="template", val={"text": "x"}, attachments=[{"url": "https://x.test/a.png"}]),
        id="v2-attachments-on-a-template",
    ),
    pytest.param(
        2, v2(type="text", val="see", attachments=["https://x.test/a.png"]), id="v2-url-strings"
    ),
    pytest.param(
        2,
        v2(type="text", val="see", attachments=[{"name": "a.png"}]),
        id="v2-attachment-without-url-or-file-id",
    ),
    pytest.param(2, v2(type="event", val="ON_DISCONNECT"), id="v2-undocumented-event"),
    pytest.param(2, v2(type="chat", val="hi"), id="v2-unknown-type"),
    pytest.param(2, v2(type="text"), id="v2-without-val"),
    pytest.param(2, {"message": {"type": "text", "val": "hi"}}, id="v2-without-from"),
]


@pytest.mark.parametrize(("version", "sent"), REFUSED)
def test_what_the_versions_table_forbids_is_refused(version: int, sent: dict[str, Any]) -> None:
    assert request_problems(sent, version), "the table allows this body; the case is wrong"
    with pytest.raises(InvalidPayload):
        parse(sent, version)
