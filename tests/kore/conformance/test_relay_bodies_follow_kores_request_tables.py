"""What the relay sends upstream, built by `request_body` for V1 and V2 bots, checked against
Kore's request tables (fixtures/request_tables.json): required fields, types, allowed values,
attachment objects, and no top-level key the version does not document."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.kore.conformance.kore_docs import assert_valid_request
from tests.widget.files import PNG
from webclient.kore import payloads
from webclient.kore.payloads import request_body
from webclient.models import Bot, Conversation, Message, attachment_storage

FORM_DATA = {
    "formId": "frm-2b2f1ae4-9a3b-5f22-8940-b6827710940f",
    "data": [
        {"componentId": "fct-9f7e487d-d4b8-542a-9a77-7806819f141b", "input": "input1"},
        {"componentId": "fct-submit", "input": "Submit"},
    ],
}


def built(version: int, sent: dict[str, Any], **bot_fields: Any) -> Any:
    bot = Bot(slug="b", bot_id="st-1", client_id="cs-1", api_version=version, **bot_fields)
    conversation = Conversation(identity="alice", session_started=True)
    return request_body(bot, conversation, Message(data=sent))


@pytest.mark.parametrize("version", [1, 2])
def test_a_text_follows_the_versions_request_table(version: int) -> None:
    body = built(version, {"text": "What is my balance?"})
    assert_valid_request(body, version)
    if version == 1:
        assert body["message"]["text"] == "What is my balance?"
    else:
        assert body["message"] == {"type": "text", "val": "What is my balance?"}


@pytest.mark.parametrize("version", [1, 2])
def test_a_postback_follows_the_versions_request_table(version: int) -> None:
    body = built(version, {"postback": {"payload": "BUY", "title": "Buy now"}})
    assert_valid_request(body, version)
    assert body["message"].get("text", body["message"].get("val")) == "BUY"


@pytest.mark.parametrize("version", [1, 2])
def test_a_form_submission_follows_the_versions_request_table(version: int) -> None:
    body = built(version, {"formData": FORM_DATA})
    assert_valid_request(body, version)
    form = body["message"]["formData"] if version == 1 else body["message"]["val"]
    assert (form["formId"], form["data"]) == (FORM_DATA["formId"], FORM_DATA["data"])
    if version == 2:
        assert body["message"]["type"] == "formData"


@pytest.mark.parametrize("event", ["ON_CONNECT", "SESSION_CLOSURE"])
def test_a_v2_event_follows_the_v2_request_table(event: str) -> None:
    body = built(2, {"event": event})
    assert_valid_request(body, 2)
    assert body["message"] == {"type": "event", "val": event}


def forwarded(version: int, sent: dict[str, Any]) -> bool:
    """The relay's decision whether a stored message goes to the platform at all
    (`payloads.forwarded_upstream`, which comes with the Kore-fidelity work)."""
    bot = Bot(slug="b", bot_id="st-1", client_id="cs-1", api_version=version)
    decide = getattr(payloads, "forwarded_upstream")  # noqa: B009
    return bool(decide(bot, Message(data=sent)))


@pytest.mark.parametrize("event", ["ON_CONNECT", "SESSION_CLOSURE"])
def test_by_default_a_v1_bot_is_sent_no_event(event: str) -> None:
    # Kore's V1 table: events "Not supported", message.text required; there is no V1 event
    # body to validate, so by default none goes out. Texts do, and V2 gets its events.
    assert forwarded(1, {"event": event}) is False
    assert forwarded(1, {"text": "hi"}) is True
    assert forwarded(2, {"event": event}) is True


@pytest.mark.parametrize("version", [1, 2])
def test_configured_custom_data_and_meta_tags_go_where_the_versions_table_puts_them(
    version: int,
) -> None:
    tags = {"userLevelTags": [{"name": "plan", "value": "gold"}]}
    body = built(version, {"text": "hi"}, custom_data={"plan": "gold"}, meta_tags=tags)
    assert_valid_request(body, version)
    assert body["customData"] == {"plan": "gold"}
    holder = body if version == 1 else body["metaTags"]
    assert holder["userLevelTags"] == [{"name": "plan", "value": "gold"}]


# Attachments: uploaded through the API, as the widget does, then built into the body.


@pytest.fixture
def own_files() -> Iterator[None]:
    """Removes the files this test stored."""
    root = Path(attachment_storage().path(""))
    before = {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()
    yield
    for path in root.rglob("*") if root.exists() else []:
        if path.is_file() and path not in before:
            path.unlink()


def message_with_attachment(slug: str) -> Message:
    client = Client()
    identity = f"u-{uuid.uuid4()}"
    token = client.post(
        "/api/v1/sts", {"bot": slug, "identity": identity}, content_type="application/json"
    ).json()["jwt"]
    auth = {"Authorization": f"Bearer {token}"}
    uploaded = client.post(
        "/api/v1/attachments",
        {"file": SimpleUploadedFile("photo.png", PNG, "image/png")},
        headers=auth,
    )
    assert uploaded.status_code == 201
    sent = client.post(
        "/api/v1/messages",
        {"clientMessageId": "m1", "text": "see this", "attachments": [uploaded.json()["id"]]},
        content_type="application/json",
        headers=auth,
    )
    assert sent.status_code == 202
    return Message.objects.get(conversation__identity=identity, client_message_id="m1")


@pytest.mark.django_db
@pytest.mark.usefixtures("own_files")
@pytest.mark.parametrize(("slug", "version"), [("demo-v1-sync", 1), ("demo", 2)])
def test_attachments_go_upstream_as_the_documented_objects(
    slug: str, version: int, settings: Any
) -> None:
    settings.KORE_DISPATCHER = False
    message = message_with_attachment(slug)
    bot = Bot.objects.get(slug=slug)
    body: Any = request_body(bot, message.conversation, message)
    assert_valid_request(body, version)
    [attachment] = body["message"]["attachments"]
    if version == 2:
        assert body["message"]["type"] == "text"
        assert body["message"]["val"] == "see this"
    # An object the platform can fetch the file with: by its URL, or by an upload's fileId.
    if "url" in attachment:
        served = Client().get(attachment["url"].removeprefix(settings.SITE_ROOT))
        assert served.status_code == 200
        assert b"".join(served.streaming_content) == PNG  # type: ignore[attr-defined]
    else:
        assert attachment["fileId"]
