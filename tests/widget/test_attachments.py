"""Attachments: checked by content, stored through Django's storage, fetched by expiring links."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.widget.files import PNG
from webclient.kore.payloads import request_body
from webclient.models import Attachment, Bot, Message, attachment_storage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_dispatcher(settings: Any) -> None:
    settings.KORE_DISPATCHER = False


@pytest.fixture
def stored_files() -> Iterator[set[str]]:
    """Files in the attachment storage before the test; the test's own are removed after."""
    root = Path(attachment_storage().path(""))
    before = {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()
    yield before
    for path in root.rglob("*") if root.exists() else []:
        if path.is_file() and str(path) not in before:
            path.unlink()


def files_now() -> set[str]:
    root = Path(attachment_storage().path(""))
    return {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def chat_user(identity: str | None = None) -> tuple[Client, dict[str, str]]:
    client = Client()
    answer = client.post(
        "/api/v1/sts",
        {"bot": "demo", "identity": identity or f"u-{uuid.uuid4()}"},
        content_type="application/json",
    )
    return client, {"Authorization": f"Bearer {answer.json()['jwt']}"}


def upload(client: Client, auth: dict[str, str], name: str, content: bytes, kind: str) -> Any:
    return client.post(
        "/api/v1/attachments", {"file": SimpleUploadedFile(name, content, kind)}, headers=auth
    )


def test_an_image_is_stored_and_served_by_an_unguessable_link(
    demo: Bot, stored_files: set[str]
) -> None:
    client, auth = chat_user()
    answer = upload(client, auth, "photo.png", PNG, "image/png")
    assert answer.status_code == 201
    data = answer.json()
    assert data["contentType"] == "image/png"
    assert data["image"] is True
    assert data["name"] == "photo.png"
    assert len(data["id"]) >= 40
    assert data["id"] in data["url"]
    assert len(files_now() - stored_files) == 1
    served = Client().get(data["url"])
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served.getvalue() == PNG


def test_a_link_with_a_wrong_signature_or_past_its_lifetime_serves_nothing(
    demo: Bot, stored_files: set[str], settings: Any
) -> None:
    client, auth = chat_user()
    url = upload(client, auth, "photo.png", PNG, "image/png").json()["url"]
    assert Client().get(url[:-2] + "xx").status_code == 404
    settings.ATTACHMENT_LINK_LIFETIME = -1
    assert Client().get(url).status_code == 404


@pytest.mark.parametrize(
    ("name", "content", "kind", "status", "code"),
    [
        ("empty.png", b"", "image/png", 400, "empty_file"),
        (
            "setup.png",
            b"MZ\x90\x00\x03\x00\x00\x00binary\x00",
            "image/png",
            415,
            "file_type_not_allowed",
        ),
        ("page.txt", b"<html>\x00\x01</html>", "text/plain", 415, "file_type_not_allowed"),
        ("big.txt", b"x" * 2001, "text/plain", 413, "file_too_large"),
    ],
)
def test_a_bad_file_gets_a_clear_error_and_nothing_is_stored(
    demo: Bot,
    stored_files: set[str],
    settings: Any,
    name: str,
    content: bytes,
    kind: str,
    status: int,
    code: str,
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 2000
    client, auth = chat_user()
    answer = upload(client, auth, name, content, kind)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert Attachment.objects.count() == 0
    assert files_now() == stored_files


def test_a_type_left_out_of_the_settings_is_refused(
    demo: Bot, stored_files: set[str], settings: Any
) -> None:
    settings.ATTACHMENT_TYPES = ["application/pdf"]
    client, auth = chat_user()
    assert upload(client, auth, "photo.png", PNG, "image/png").status_code == 415
    assert Attachment.objects.count() == 0


def test_a_message_goes_upstream_with_expiring_links_to_its_attachments(
    demo: Bot, stored_files: set[str], settings: Any
) -> None:
    client, auth = chat_user()
    key = upload(client, auth, "photo.png", PNG, "image/png").json()["id"]
    sent = client.post(
        "/api/v1/messages",
        {"clientMessageId": "m1", "text": "see this", "attachments": [key]},
        content_type="application/json",
        headers=auth,
    )
    assert sent.status_code == 202
    assert sent.json()["message"]["attachments"][0]["name"] == "photo.png"
    message = Message.objects.get(client_message_id="m1")
    body = request_body(demo, message.conversation, message)
    assert body["message"]["val"] == "see this"
    [link] = body["message"]["attachments"]
    assert link.startswith(settings.SITE_ROOT + "/attachments/")
    assert key in link
    assert Client().get(link.removeprefix(settings.SITE_ROOT)).status_code == 200


def test_nobody_can_send_someone_elses_attachment(demo: Bot, stored_files: set[str]) -> None:
    owner, owner_auth = chat_user()
    key = upload(owner, owner_auth, "photo.png", PNG, "image/png").json()["id"]
    thief, thief_auth = chat_user()
    answer = thief.post(
        "/api/v1/messages",
        {"clientMessageId": "m2", "text": "mine now", "attachments": [key]},
        content_type="application/json",
        headers=thief_auth,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "unknown_attachment"
    assert not Message.objects.filter(client_message_id="m2").exists()
