"""Kore's Web SDK's file uploads (its file-upload plugin) through the relay: the fileToken,
the file as the plugin writes it (multipart, base64 with Content-Transfer-Encoding, a
`thumbnail` copy), `fileId` in the answer, and a send naming that fileId in Kore's
attachment object reaching the bot once as Kore's documented attachment; refused as our
widget's uploads are (no chat token, too large, a type we do not take, another user's
file), in Kore's error shape."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from tests.kore.test_kore_sdk_defences import sdk_token
from tests.kore.test_kore_sdk_routes import DemoBot, SdkUser
from tests.relay_helpers import emulator_record, relay_server, sent_messages
from tests.widget.files import PNG
from webclient.models import Attachment, Bot, Message

BOUNDARY = "--------MultipartData0.123456789"


def plugin_body(name: str, content: bytes) -> tuple[bytes, dict[str, str]]:
    """The multipart body and header the plugin's MultipartDatatoString sends for a file
    it reads as a data URL: its fields, then `file` and `thumbnail` as base64."""
    data = base64.b64encode(content).decode()
    fields: list[tuple[str, Any]] = [
        ("fileExtension", name.rpartition(".")[2]),
        ("fileContext", "workflows"),
        ("thumbnailUpload", "false"),
        ("filename", name),
        ("file", {"fileName": name, "data": data}),
        ("thumbnail", {"fileName": f"{name}_thumb", "data": data}),
    ]
    body = ""
    for key, value in fields:
        body += f"--{BOUNDARY}\r\n"
        if isinstance(value, dict):
            body += f'Content-Disposition: form-data; name="{key}"; filename="{value["fileName"]}"'
            body += "\r\nContent-Type: UTF-8; charset=ISO-8859-1\r\n"
            body += "Content-Transfer-Encoding: base64\r\n"
            body += f"\r\n{value['data']}\r\n"
        else:
            body += f'Content-Disposition: form-data; name="{key}";\r\n\r\n{value}\r\n'
    body += f"--{BOUNDARY}--"
    return body.encode(), {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def attached(file_id: str, name: str = "pixel.png", kind: str = "image") -> dict[str, Any]:
    # The plugin's hostInstance.attachmentInfo.
    return {"fileName": name, "fileType": kind, "fileId": file_id}


# Over a live relay pointed at the embedded emulator.


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, DemoBot]]]:
    server = relay_server(tmp_path_factory.mktemp("kore-sdk-uploads") / "db.sqlite3")
    server.migrate()
    code = (
        "import json\n"
        "from webclient.models import Bot\n"
        "print(json.dumps([[b.slug, b.bot_id, b.client_id, b.api_version, b.hook_instance_id]"
        " for b in Bot.objects.all()]))"
    )
    bots = {row[0]: DemoBot(*row) for row in json.loads(server.shell(code))}
    server.start()
    yield server.url, bots
    server.stop()


def sdk_upload(user: SdkUser, name: str, content: bytes) -> httpx.Response:
    bot = user.bot
    token = user.http.post(f"/kore/api/attachments/{bot.bot_id}/ivr/token")
    assert token.status_code == 200, token.text
    assert isinstance(token.json()["fileToken"], str)
    body, headers = plugin_body(name, content)
    return user.http.post(
        f"/kore/api/attachments/file/{bot.bot_id}/ivr", content=body, headers=headers
    )


def test_a_file_the_plugin_uploads_reaches_the_bot_once_as_kores_attachment_object(
    relay: tuple[str, dict[str, DemoBot]],
) -> None:
    base_url, bots = relay
    user = SdkUser(base_url, bots["demo"])
    answer = sdk_upload(user, "pixel.png", PNG)
    assert answer.status_code == 200, answer.text
    file_id = answer.json()["fileId"]
    message = {"type": "text", "val": "", "attachments": [attached(file_id)]}
    sent = user.send(message)
    assert sent.status_code == 200, sent.text
    # The SDK's retry of the same send (the same bytes) is not forwarded again.
    assert user.send(message).status_code == 200
    record = emulator_record(base_url, user.identity, wait=1)
    [message] = sent_messages(record)
    [attachment] = message["attachments"]
    assert (message["type"], message["val"]) == ("text", "pixel.png")
    assert set(attachment) == {"url", "fileName", "fileType"}
    assert (attachment["fileName"], attachment["fileType"]) == ("pixel.png", "image")
    # The link the platform fetches serves the file the plugin sent, decoded.
    assert httpx.get(attachment["url"]).content == PNG


def test_a_text_with_a_file_keeps_its_words_on_a_v1_bot(
    relay: tuple[str, dict[str, DemoBot]],
) -> None:
    base_url, bots = relay
    user = SdkUser(base_url, bots["demo-v1-sync"])
    file_id = sdk_upload(user, "note.txt", b"a note\n").json()["fileId"]
    sent = user.send(
        {"text": "see this", "attachments": [attached(file_id, "note.txt", "attachment")]}
    )
    assert sent.status_code == 200, sent.text
    [message] = sent_messages(emulator_record(base_url, user.identity, wait=1))
    assert message["text"] == "see this"
    assert [(a["fileName"], a["fileType"]) for a in message["attachments"]] == [("note.txt", "txt")]


def test_a_file_larger_than_the_api_body_cap_is_taken_as_the_plugin_sends_it(
    relay: tuple[str, dict[str, DemoBot]],
) -> None:
    # 200 KB, sent twice in base64 (file and thumbnail): over the 64 KB body cap of /kore/,
    # under the plugin's 1 MB limit for one request and our ATTACHMENT_MAX_BYTES.
    base_url, bots = relay
    user = SdkUser(base_url, bots["demo"])
    text = b"a line of text\n" * (200 * 1024 // 15)
    answer = sdk_upload(user, "long.txt", text)
    assert answer.status_code == 200, answer.text
    file_id = answer.json()["fileId"]
    user.send({"type": "text", "val": "the log", "attachments": [attached(file_id, "long.txt")]})
    [message] = sent_messages(emulator_record(base_url, user.identity, wait=1))
    assert httpx.get(message["attachments"][0]["url"]).content == text


# In process: what is refused, and that a refusal stores nothing.


@pytest.fixture(autouse=True)
def quiet(settings: SettingsWrapper) -> None:
    settings.KORE_DISPATCHER = False
    settings.KORE_SDK_SEND_WAIT = 0


def upload_as(bot: Bot, authorization: str, name: str, content: bytes, path: str = "") -> Any:
    body, headers = plugin_body(name, content)
    return APIClient().generic(
        "POST",
        path or f"/kore/api/attachments/file/{bot.bot_id}/ivr",
        body.decode(),
        content_type=headers["Content-Type"],
        HTTP_AUTHORIZATION=authorization,
    )


def kore_error(answer: Any) -> tuple[int, int]:
    [error] = answer.json()["errors"]
    assert set(error) == {"msg", "code"} and error["msg"]
    return answer.status_code, error["code"]


@pytest.mark.django_db
def test_an_upload_without_the_chat_token_is_refused_in_kores_shape(demo: Bot) -> None:
    # The plugin's fallback address, with the `bearer undefined` it sends in webhook mode.
    answer = upload_as(demo, "bearer undefined", "pixel.png", PNG, "/kore/api/1.1/attachment/file")
    assert kore_error(answer) == (401, 401)
    token = APIClient().post(
        f"/kore/api/attachments/{demo.bot_id}/ivr/token", HTTP_AUTHORIZATION="bearer nope"
    )
    assert kore_error(token) == (401, 401)
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_the_fallback_address_takes_a_file_with_the_chat_token(demo: Bot) -> None:
    answer = upload_as(
        demo, f"bearer {sdk_token(demo)}", "pixel.png", PNG, "/kore/api/1.1/attachment/file"
    )
    assert answer.status_code == 200, answer.content
    assert Attachment.objects.get(key=answer.json()["fileId"]).content_type == "image/png"


@pytest.mark.django_db
def test_a_file_over_the_size_cap_is_refused(demo: Bot, settings: SettingsWrapper) -> None:
    settings.ATTACHMENT_MAX_BYTES = 1000
    answer = upload_as(demo, f"bearer {sdk_token(demo)}", "big.txt", b"a" * 1001)
    assert kore_error(answer) == (413, 413)
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_a_file_of_a_type_we_do_not_take_is_refused_by_its_content(demo: Bot) -> None:
    # A zip named as a PNG: the name and the plugin's word do not count.
    answer = upload_as(demo, f"bearer {sdk_token(demo)}", "pixel.png", b"PK\x03\x04\x00\xff" * 8)
    assert kore_error(answer) == (415, 415)
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_a_token_for_a_channel_the_bot_does_not_have_is_refused(demo: Bot) -> None:
    answer = APIClient().post(
        f"/kore/api/attachments/{demo.bot_id}/not-a-channel/token",
        HTTP_AUTHORIZATION=f"bearer {sdk_token(demo)}",
    )
    assert kore_error(answer) == (404, 404)


@pytest.mark.django_db
def test_a_send_naming_another_users_file_is_refused_and_stores_nothing(demo: Bot) -> None:
    alice = upload_as(demo, f"bearer {sdk_token(demo, 'alice@example.com')}", "a.png", PNG)
    file_id = alice.json()["fileId"]
    body = {"message": {"type": "text", "val": "mine", "attachments": [attached(file_id)]}}
    answer = APIClient().post(
        f"/kore/chatbot/v2/webhook/{demo.bot_id}",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"bearer {sdk_token(demo, 'mallory@example.com')}",
    )
    assert kore_error(answer) == (400, 400)
    assert not Message.objects.filter(conversation__identity="mallory@example.com").exists()
    assert Attachment.objects.get(key=file_id).message is None
