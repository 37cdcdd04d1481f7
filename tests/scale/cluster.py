"""Several server processes on one PostgreSQL database, as on several hosts (no tests here)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.liveserver import ROOT, LiveServer
from tests.relay_helpers import RELAY_ENV
from tests.servers import postgres_database


@dataclass
class Cluster:
    database_url: str
    workers: list[LiveServer] = field(default_factory=list)
    emulator: LiveServer | None = None

    def query(self, sql: str) -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return list(conn.execute(sql).fetchall())


def point_bots_at(server: LiveServer, emulator_url: str) -> None:
    """Every demo bot's upstream: that server's emulator (one record for every worker)."""
    code = (
        "from webclient.models import Bot\n"
        f"Bot.objects.filter(slug__startswith='demo').update(upstream_url={emulator_url!r})\n"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", code],
        cwd=ROOT,
        env=server.env,
        check=True,
    )


@contextmanager
def cluster(
    tmp_path: Path,
    workers: int = 2,
    env: Mapping[str, str] | None = None,
    *,
    emulator: bool = False,
) -> Iterator[Cluster]:
    """`workers` server processes sharing one fresh PostgreSQL database, dropped afterwards.

    With `emulator`, one more process serves only the emulator (its dispatcher off) and every
    demo bot talks to it, so its record of what the bot received survives a worker's death.
    """
    with postgres_database("kc_cluster") as url:
        group = Cluster(url)
        common = {**RELAY_ENV, "KORE_ALLOW_LOOPBACK_UPSTREAM": "true", **(env or {})}
        servers: list[LiveServer] = []
        try:
            first = LiveServer(tmp_path / "w0.sqlite3", common, database_url=url)
            first.migrate()
            if emulator:
                upstream = LiveServer(
                    tmp_path / "emulator.sqlite3",
                    {**common, "KORE_DISPATCHER": "false"},
                    database_url=url,
                )
                servers.append(upstream.start())
                group.emulator = upstream
                point_bots_at(first, f"{upstream.url}/emulator")
            group.workers = [first] + [
                LiveServer(tmp_path / f"w{n}.sqlite3", common, database_url=url)
                for n in range(1, workers)
            ]
            for worker in group.workers:
                servers.append(worker.start())
            yield group
        finally:
            for server in servers:
                server.stop(kill=True)
