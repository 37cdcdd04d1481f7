"""`python manage.py runserver` (WSGI) serves the same product for developers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client import ChatUser
from tests.liveserver import LiveServer


@pytest.fixture(scope="module")
def devserver_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = LiveServer(tmp_path_factory.mktemp("dev") / "db.sqlite3", devserver=True)
    server.migrate()
    server.start()
    yield server.url
    server.stop()


def test_the_development_server_relays_and_long_polls(devserver_url: str) -> None:
    user = ChatUser(devserver_url)
    assert user.http.get("/healthz").headers["server"].startswith("WSGIServer")
    cursor = user.send(text="hello").json()["cursor"]
    answer = user.poll(after=cursor, wait=10)
    assert [m["role"] for m in answer["messages"]] == ["bot"]
    assert answer["messages"][0]["text"]


def test_the_development_server_serves_the_chat_page(devserver_url: str) -> None:
    page = ChatUser(devserver_url).http.get("/")
    assert page.status_code == 200
    assert "webclient/chat.js" in page.text
