"""The production server's processes (`python -m kore_chat.serve`): granian's main process
and the worker that runs the application."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.liveserver import LiveServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "db.sqlite3")
    live.migrate()
    yield live.start()
    live.stop()


def test_a_worker_does_not_outlive_its_main_process_killed_with_9(server: LiveServer) -> None:
    workers = psutil.Process(server.pid).children()
    assert len(workers) == 1
    server.stop(kill=True)
    # Waits on the worker's end itself; a worker left serving fails after the timeout.
    gone, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive, [p.pid for p in alive]
    assert gone == workers
