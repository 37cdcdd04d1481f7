"""Attachments: checked by content, stored through Django's storage, fetched by expiring links."""

from __future__ import annotations

import io
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tests.widget.files import PNG
from webclient.kore.payloads import request_body
from webclient.models import Attachment, Bot, Conversation, Message, attachment_storage

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
    [attachment] = body["message"]["attachments"]
    # Kore's documented attachment object.
    assert (attachment["fileName"], attachment["fileType"]) == ("photo.png", "image")
    link = attachment["url"]
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


def python_calls_of_an_upload(client: Client, auth: dict[str, str], content: bytes) -> Counter[str]:
    """The Python functions one upload runs (the profiler's 'call' events, by name): a step
    of Python per byte shows as millions of them (a generator resumed per byte)."""
    calls: Counter[str] = Counter()

    def count(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            calls[frame.f_code.co_name] += 1

    sys.setprofile(count)
    try:
        answer = upload(client, auth, "notes.txt", content, "text/plain")
    finally:
        sys.setprofile(None)
    assert answer.status_code == 201, answer.content
    return calls


def test_an_upload_is_checked_once_and_never_byte_by_byte_in_python(
    demo: Bot, stored_files: set[str]
) -> None:
    client, auth = chat_user()
    line = "Plain text, with ünïcödé and 日本語 in it.\n".encode()
    small, large = 64 * 1024, 4 * 1024 * 1024
    few = python_calls_of_an_upload(client, auth, line * (small // len(line)))
    many = python_calls_of_an_upload(client, auth, line * (large // len(line)))
    assert many["attachment_check"] == 1
    # Reading and writing in chunks adds a few calls per chunk; per byte, none.
    grown = sum(many.values()) - sum(few.values())
    assert grown < (large - small) // 1024, many.most_common(5)


def sent_with_a_file(client: Client, auth: dict[str, str], cmid: str) -> tuple[Message, str]:
    key = upload(client, auth, "photo.png", PNG, "image/png").json()["id"]
    answer = client.post(
        "/api/v1/messages",
        {"clientMessageId": cmid, "text": "see this", "attachments": [key]},
        content_type="application/json",
        headers=auth,
    )
    assert answer.status_code == 202
    return Message.objects.get(client_message_id=cmid), str(
        Attachment.objects.get(key=key).file.name
    )


def test_deleting_a_conversation_in_the_admin_deletes_its_files_from_the_storage(
    demo: Bot,
    stored_files: set[str],
    superuser_client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client, auth = chat_user()
    message, name = sent_with_a_file(client, auth, "c1")
    unsent = upload(client, auth, "notes.txt", b"never sent", "text/plain").json()["id"]
    unsent_name = str(Attachment.objects.get(key=unsent).file.name)
    assert attachment_storage().exists(name) and attachment_storage().exists(unsent_name)
    with django_capture_on_commit_callbacks(execute=True):
        answer = superuser_client.post(
            f"/admin/webclient/conversation/{message.conversation_id}/delete/", {"post": "yes"}
        )
    assert answer.status_code == 302
    assert not attachment_storage().exists(name)
    assert not attachment_storage().exists(unsent_name)


def test_deleting_a_message_in_the_admin_deletes_its_files_from_the_storage(
    demo: Bot,
    stored_files: set[str],
    superuser_client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client, auth = chat_user()
    message, name = sent_with_a_file(client, auth, "m1")
    _, kept_name = sent_with_a_file(client, auth, "m2")
    with django_capture_on_commit_callbacks(execute=True):
        answer = superuser_client.post(
            f"/admin/webclient/message/{message.pk}/delete/", {"post": "yes"}
        )
    assert answer.status_code == 302
    assert not attachment_storage().exists(name)
    assert attachment_storage().exists(kept_name)


def test_purging_conversations_deletes_their_files_from_the_storage(
    demo: Bot, stored_files: set[str], django_capture_on_commit_callbacks: Any
) -> None:
    client, auth = chat_user()
    message, name = sent_with_a_file(client, auth, "p1")
    Message.objects.filter(pk=message.pk).update(status="sent")
    Conversation.objects.filter(pk=message.conversation_id).update(
        last_activity_at=timezone.now() - timedelta(days=3)
    )
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_conversations", "--older-than", "1d", stdout=io.StringIO())
    assert not Conversation.objects.filter(pk=message.conversation_id).exists()
    assert not attachment_storage().exists(name)


def test_uploads_past_a_quota_get_429_over_quota_and_store_nothing(
    demo: Bot, stored_files: set[str], settings: Any
) -> None:
    settings.ATTACHMENT_QUOTA_PER_IDENTITY = 2 * len(PNG)
    settings.ATTACHMENT_QUOTA_PER_CONVERSATION = 3 * len(PNG)
    client, auth = chat_user()
    assert upload(client, auth, "a.png", PNG, "image/png").status_code == 201
    assert upload(client, auth, "b.png", PNG, "image/png").status_code == 201
    refused = upload(client, auth, "c.png", PNG, "image/png")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "over_quota"
    assert int(refused["Retry-After"]) > 0
    assert Attachment.objects.count() == 2
    # Sending them frees the identity's quota; the conversation's still counts them.
    keys = list(Attachment.objects.values_list("key", flat=True))
    sent = client.post(
        "/api/v1/messages",
        {"clientMessageId": "q1", "text": "two files", "attachments": keys},
        content_type="application/json",
        headers=auth,
    )
    assert sent.status_code == 202
    assert upload(client, auth, "c.png", PNG, "image/png").status_code == 201
    over = upload(client, auth, "d.png", PNG, "image/png")
    assert over.status_code == 429 and over.json()["error"]["code"] == "over_quota"
    assert Attachment.objects.count() == 3
    # A file larger than the quota by itself: refused, with no Retry-After to wait for.
    settings.ATTACHMENT_QUOTA_PER_CONVERSATION = 0
    other, other_auth = chat_user()
    alone = upload(other, other_auth, "big.png", PNG + b"x" * 2 * len(PNG), "image/png")
    assert alone.status_code == 429 and "Retry-After" not in alone


def test_an_upload_never_sent_is_swept_after_the_grace_and_a_sent_one_stays(
    demo: Bot, stored_files: set[str], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client, auth = chat_user()
    message, sent_name = sent_with_a_file(client, auth, "s1")
    unsent = upload(client, auth, "notes.txt", b"never sent", "text/plain").json()["id"]
    unsent_name = str(Attachment.objects.get(key=unsent).file.name)
    Attachment.objects.update(created_at=timezone.now() - timedelta(seconds=120))
    settings.ATTACHMENT_UNSENT_GRACE = 60
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_conversations", "--unsent-files", stdout=io.StringIO())
    assert not Attachment.objects.filter(key=unsent).exists()
    assert not attachment_storage().exists(unsent_name)
    assert attachment_storage().exists(sent_name)
    assert Attachment.objects.filter(message=message).count() == 1
