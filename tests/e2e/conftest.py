"""End-to-end fixtures: browser contexts closed after each test, another site (origin) that
embeds the widget."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.e2e.widget import PAGES
from tests.liveserver import free_port


class _HostHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES.get(self.path, "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="session")
def host_origin() -> Iterator[str]:
    """A site that embeds the widget: another origin (port) on loopback, which the demo
    bots (embedded emulator, DEBUG) accept being framed by. The same site as the relay
    (127.0.0.1), so the frame keeps its localStorage (cross-site frames may be denied it)."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _HostHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def new_context(browser: Any) -> Iterator[Callable[..., Any]]:
    """Makes browser contexts (with Playwright's options), each closed when the test ends."""
    made: list[Any] = []

    def make(**options: Any) -> Any:
        context = browser.new_context(**options)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()
