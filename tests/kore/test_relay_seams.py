"""The seam between the chat domain and the relay: `services` imports nothing from kore/,
and the relay learns of an accepted message through a hook that runs on commit only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.code_imports import WEBCLIENT, imported_modules
from webclient import services
from webclient.kore import dispatcher
from webclient.models import Conversation

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def no_forwarding(settings: SettingsWrapper) -> None:
    settings.KORE_DISPATCHER = False


@pytest.fixture
def woken() -> Iterator[list[int]]:
    calls: list[int] = []

    def hook(conversation_id: int) -> None:
        calls.append(conversation_id)

    services.on_message_accepted(hook)
    yield calls
    services._accepted_hooks.remove(hook)


def accept(bot: Any, client_message_id: str) -> bool:
    _, created = services.user_message_accept(
        bot=bot, identity="seam", body={"text": "hi"}, client_message_id=client_message_id
    )
    return created


def conversation_of(bot: Any) -> int:
    return int(Conversation.objects.get(bot=bot, identity="seam").pk)


def test_services_imports_nothing_from_the_relay() -> None:
    imported = imported_modules(WEBCLIENT / "services.py")
    assert "webclient.models" in imported
    assert [name for name in imported if name.startswith("webclient.kore")] == []


def test_the_app_registers_the_dispatchers_wake_at_start() -> None:
    assert dispatcher.wake in services._accepted_hooks


def test_an_accepted_message_wakes_the_relay_for_its_conversation_once_it_commits(
    demo: Any, woken: list[int]
) -> None:
    with transaction.atomic():
        assert accept(demo, "m-1")
        assert woken == []
    assert woken == [conversation_of(demo)]


def test_a_rolled_back_acceptance_wakes_nothing(demo: Any, woken: list[int]) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        accept(demo, "m-1")
        raise RuntimeError("the request failed after accepting")
    assert woken == []


def test_a_replayed_message_wakes_nothing(demo: Any, woken: list[int]) -> None:
    assert accept(demo, "m-1")
    assert not accept(demo, "m-1")
    assert woken == [conversation_of(demo)]
