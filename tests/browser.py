"""Real headless Chromium (Debian's package) driven by Playwright's Python client."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


# Per module: Playwright's sync API runs an event loop in the main thread while it is open,
# and other tests need that thread free of one (asyncio.run, Django's ORM).
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    path = chromium_path()
    if path is None:
        if os.getenv("CI") == "true":
            pytest.fail("Chromium is missing: under CI=true browser tests must run")
        pytest.skip("Chromium is missing (run scripts/ensure-chromium as root to install it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
