"""SQLite, with this process's write transactions taking turns on a lock.

SQLite lets one writer in at a time. A second `BEGIN IMMEDIATE` waits in SQLite's busy
handler, which sleeps and retries with sleeps growing to 100 ms; under load, writes then
queue with idle gaps between them (measured: throughput flat at ~35 messages a second and
round trips of seconds with 200 conversations). Here the threads of one process wait on a
lock instead and get in as soon as the writer before them commits. Writers in other
processes still meet the busy handler. Waiting longer than the database's `timeout` fails
as SQLite would: "database is locked".
"""

from __future__ import annotations

import threading
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_write_turn = threading.Lock()


# The private hooks overridden below are not in django-stubs, hence the ignores.
class DatabaseWrapper(base.DatabaseWrapper):
    _holds_write_turn = False

    def _start_transaction_under_autocommit(self) -> None:
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        if not _write_turn.acquire(timeout=timeout):
            raise OperationalError("database is locked")
        self._holds_write_turn = True
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._release_write_turn()
            raise

    def _commit(self) -> Any:
        try:
            return super()._commit()  # type: ignore[misc]
        finally:
            self._release_write_turn()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]
        finally:
            self._release_write_turn()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]
        finally:
            self._release_write_turn()

    def _release_write_turn(self) -> None:
        if self._holds_write_turn:
            self._holds_write_turn = False
            _write_turn.release()
