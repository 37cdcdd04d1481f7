"""SQLite writers wait for one another (Django's own backend: `BEGIN IMMEDIATE` and the busy
timeout, kore_chat/settings.py) instead of failing."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from django.db import OperationalError, connection, connections, transaction

from webclient.models import Bot

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

if connection.vendor != "sqlite":
    pytest.skip("SQLite only", allow_module_level=True)


def write_in_turn(slug: str, hold: float, errors: list[BaseException]) -> None:
    try:
        for _ in range(5):
            with transaction.atomic():
                bot = Bot.objects.get(slug=slug)
                bot.name = f"{bot.name[:80]}."
                time.sleep(hold)  # a transaction that takes a while
                Bot.objects.filter(pk=bot.pk).update(name=bot.name)
    except BaseException as exc:
        errors.append(exc)
    finally:
        connections.close_all()


def test_concurrent_write_transactions_all_commit_in_turn() -> None:
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=write_in_turn, args=("demo", 0.002, errors)) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    # Each read-modify-write saw the one before it: none was lost.
    assert Bot.objects.get(slug="demo").name.endswith("." * 40)


def test_a_transaction_that_fails_gives_the_next_writer_its_turn() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        Bot.objects.filter(slug="demo").update(name="rolled back")
        raise RuntimeError("boom")
    errors: list[BaseException] = []
    thread = threading.Thread(target=write_in_turn, args=("demo", 0, errors))
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert errors == []


def test_waiting_longer_than_the_timeout_fails_like_sqlite() -> None:
    other_writer = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    other_writer.execute("BEGIN IMMEDIATE")  # another process's writer holds the write lock
    connection.close()
    connection.settings_dict["OPTIONS"]["timeout"] = 0.05
    try:
        with pytest.raises(OperationalError, match="locked"), transaction.atomic():
            Bot.objects.filter(slug="demo").update(name="never")
    finally:
        other_writer.rollback()
        other_writer.close()
        connection.close()
        connection.settings_dict["OPTIONS"]["timeout"] = 20
    assert Bot.objects.get(slug="demo").name != "never"


def test_the_database_is_djangos_own_sqlite_backend() -> None:
    assert type(connections["default"]).__module__ == "django.db.backends.sqlite3.base"
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
