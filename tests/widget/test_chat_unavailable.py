"""The chat page with no bot to talk to says so plainly, with its input disabled, instead of
a widget failing to get a token ("bot: This field may not be blank.")."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

pytestmark = pytest.mark.django_db


def test_the_chat_page_without_any_bot_says_so_with_the_input_disabled(
    settings: SettingsWrapper,
) -> None:
    settings.DEFAULT_BOT = "nothing-here"
    answer = Client().get("/")
    page = answer.content.decode()
    assert answer.status_code == 404
    assert "This chat is unavailable." in page
    assert "No chat is set up here yet." in page
    assert re.search(r"<textarea[^>]*\bdisabled\b", page)
    assert re.search(r'<button type="submit"[^>]*\bdisabled\b', page)
    assert "<script" not in page


def test_an_unknown_bot_is_named_and_the_hint_is_for_staff_only(
    settings: SettingsWrapper, admin_client: Client
) -> None:
    settings.DEBUG = False
    visitor = Client().get("/?bot=no-such-bot").content.decode()
    assert "There is no chat named “no-such-bot” here." in visitor
    assert "admin" not in visitor
    staff = admin_client.get("/?bot=no-such-bot").content.decode()
    assert "Bots → Add" in staff
