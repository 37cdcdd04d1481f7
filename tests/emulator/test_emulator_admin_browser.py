"""The emulated channel pages in a real browser on a real server: an operator creates a
channel from its name alone, reads and copies its credentials (and, with JWE on, the public
JWK under the client secret), with no inline script the CSP would refuse.

Set SCREENSHOT_DIR to keep the screenshots (docs/screenshots/ holds the one in the docs).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.liveserver import ROOT, LiveServer
from tests.ops.test_admin_browser import PASSWORD, keep

pytestmark = pytest.mark.browser
SUPERUSER = (
    "from django.contrib.auth import get_user_model; "
    f"get_user_model().objects.create_superuser('root', 'root@example.com', '{PASSWORD}')"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("emulator-admin") / "db.sqlite3")
    live.migrate()
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SUPERUSER], cwd=ROOT, env=live.env, check=True
    )
    live.start()
    yield live
    live.stop()


def channel_page(live: LiveServer, bot_id: str) -> dict[str, Any]:
    """The channel as the command shows it (it reads the server's database)."""
    output = subprocess.run(
        [sys.executable, "manage.py", "emulator_channel", "show", bot_id, "--json"],
        cwd=ROOT,
        env=live.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    page: dict[str, Any] = json.loads(output)
    return page


def test_an_operator_creates_a_channel_and_copies_its_credentials(
    browser: Any, server: LiveServer, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console",
        lambda m: errors.append(f"{m.text} ({m.location['url']})") if m.type == "error" else None,
    )
    page.goto(f"{server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{server.url}/admin/")
    assert "EMULATED KORE PLATFORM" in page.locator("#content-main").inner_text().upper()

    page.goto(f"{server.url}/admin/emulator/emulatedwebhook/add/")
    page.fill("#id_bot_name", "Shop bot")
    page.check("input[name=version][value='2']")
    page.check("input[name=is_async][value='False']")
    keep(page, "emulator-channel-add.png", tmp_path)
    page.click("input[name=_save]")
    page.wait_for_url("**/change/")

    bot_id = page.locator(".field-bot_id_shown [data-kc-url]").inner_text()
    stored = channel_page(server, bot_id)
    secret = page.locator(".field-client_secret_shown [data-kc-url]")
    assert secret.inner_text() == stored["client_secret"]
    page.click(".field-client_secret_shown [data-kc-copy]")
    page.wait_for_function("async () => (await navigator.clipboard.readText()).length > 0")
    assert page.evaluate("navigator.clipboard.readText()") == stored["client_secret"]

    page.check("#id_jwe_enabled")
    page.click("input[name=_continue]")
    page.wait_for_load_state()
    jwk = json.loads(page.locator(".field-public_jwk_shown [data-kc-url]").inner_text())
    assert jwk == channel_page(server, bot_id)["public_jwk"]
    assert jwk["kid"].startswith("k-")
    keep(page, "emulator-channel.png", tmp_path)
    # Any refused script or style (CSP) would be a console error; the browser's own favicon
    # request (the admin has none) is the only failure.
    assert [e for e in errors if not e.endswith("/favicon.ico)")] == []
    context.close()
