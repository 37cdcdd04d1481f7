"""Kore's Web SDK with its file-upload plugin (npm `kore-web-sdk`, both bundles unmodified)
in real Chromium against the relay: a file attached in the SDK's footer gets its fileToken,
is uploaded through /kore/api/, checked and stored as our widget's uploads are, and, sent
with a text, reaches the bot once as Kore's attachment object (docs/kore-sdk.md)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.emulator.test_kore_web_sdk import (
    BUNDLE,
    COMPOSE,
    LOOPBACK,
    USER,
    sdk_installed,
    serve_sdk_file,
)
from tests.kore.test_kore_sdk_dropin import Bot, forwarded, sdk_query
from tests.liveserver import LiveServer
from tests.relay_helpers import emulator_record, relay_server, sent_messages
from tests.waiting import wait_until
from tests.widget.files import PNG
from webclient.emulator.demo_bot import WELCOME

if TYPE_CHECKING:
    from playwright.sync_api import Route

pytestmark = pytest.mark.browser

__all__ = ["sdk_installed"]  # the SDK's presence check, applied to this module too

PLUGIN = BUNDLE.parent / "plugins" / "file-upload-umd.js"


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Bot]]:
    server = relay_server(tmp_path_factory.mktemp("sdk-uploads") / "db.sqlite3")
    server.migrate()
    code = (
        "import json\n"
        "from webclient.models import Bot\n"
        "b = Bot.objects.get(slug='demo')\n"
        "print(json.dumps([b.slug, b.bot_id, b.client_id, b.name, b.api_version,"
        " b.hook_instance_id]))"
    )
    bot = Bot(*json.loads(server.shell(code)))
    server.start()
    yield server, bot
    server.stop()


def serve_plugin(route: Route) -> None:
    route.fulfill(body=Path(PLUGIN).read_bytes(), content_type="text/javascript; charset=utf-8")


def test_the_sdks_file_upload_plugin_uploads_a_file_through_the_relay(
    browser: Any, relay: tuple[LiveServer, Bot]
) -> None:
    server, bot = relay
    base_url = server.url
    user = f"sdk-{uuid.uuid4().hex[:12]}@example.com"
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    requests: list[str] = []
    foreign: list[str] = []
    alerts: list[str] = []
    errors: list[str] = []

    def only_loopback(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host is not None and host not in LOOPBACK:
            foreign.append(route.request.url)
            route.abort()
            return
        route.continue_()

    def dismiss(dialog: Any) -> None:
        alerts.append(dialog.message)
        dialog.dismiss()

    context.route("**/*", only_loopback)
    page.route(f"{base_url}/sdk/**", serve_sdk_file)
    page.route(f"{base_url}/sdk/file-upload-umd.js", serve_plugin)
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", dismiss)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base_url}/sdk/index.html?{sdk_query(base_url, bot, user)}&fileUpload=1")
    page.locator("li.fromOtherUsers", has_text=WELCOME).first.wait_for()

    with page.expect_response(lambda r: "/attachment" in r.url and "token" not in r.url) as up:
        page.set_input_files(
            "#captureAttachmnts",
            files=[{"name": "pixel.png", "mimeType": "image/png", "buffer": PNG}],
        )
    assert up.value.status == 200, up.value.text()
    file_id = up.value.json()["fileId"]
    # The plugin shows the file ready to send: its upload indicator gone, no failure alert.
    footer = page.locator(".footerContainer .attachment")
    footer.locator(".uploadedFileName", has_text="pixel.png").wait_for()
    assert footer.locator(".upldIndc").count() == 0
    assert alerts == []
    stored = server.shell(
        "from webclient.models import Attachment\n"
        f"a = Attachment.objects.get(key={file_id!r})\n"
        "print(a.conversation.identity, a.content_type, a.file.read().hex())"
    )
    assert stored.split() == [user, "image/png", PNG.hex()]

    # Sent with words: the SDK's webhook send names the file in Kore's attachment object,
    # and the bot gets it once, as Kore's attachment (a link to our stored file).
    with page.expect_request(lambda r: "/kore/chatbot/" in r.url and r.method == "POST") as sent:
        page.locator(COMPOSE).fill("here it is")
        page.locator(COMPOSE).press("Enter")
    assert sent.value.post_data_json["message"]["attachments"] == [
        {"fileName": "pixel.png", "fileType": "image", "fileId": file_id}
    ]
    page.locator(USER, has_text="here it is").last.wait_for()
    # The SDK shows its own copy at once; the relay forwards it through its outbox.
    wait_until(
        lambda: forwarded(base_url, user)[-1:] == ["here it is"],
        message="the message never reached the bot",
    )
    assert forwarded(base_url, user).count("here it is") == 1
    with_files = [m for m in sent_messages(emulator_record(base_url, user)) if "attachments" in m]
    assert len(with_files) == 1
    [attachment] = with_files[0]["attachments"]
    assert (attachment["fileName"], attachment["fileType"]) == ("pixel.png", "image")
    assert httpx.get(attachment["url"]).content == PNG

    context.close()
    assert foreign == [] and errors == []
    assert all(url.startswith(base_url + "/") for url in requests if url.startswith("http"))
    assert f"{base_url}/kore/api/attachments/{bot.bot_id}/ivr/token" in requests
