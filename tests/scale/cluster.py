"""Several server processes on one PostgreSQL database, as on several hosts (no tests here):
web workers, and in the production layout relay processes (`manage.py relay`) beside web
workers that run no dispatcher."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.liveserver import ROOT, LiveServer
from tests.relay_helpers import RELAY_ENV
from tests.servers import postgres_database


class RelayProcess:
    """`manage.py relay` with a server's environment (its database, its settings)."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.env = {**env, "KORE_DISPATCHER": "false"}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RelayProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "relay"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: nothing of it runs any more, as when its host dies."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def terminate(self, timeout: float) -> tuple[int, float]:
        """SIGTERM, then its exit status and the seconds it took to exit."""
        assert self.process is not None
        began = time.monotonic()
        self.process.terminate()
        status = self.process.wait(timeout=timeout)
        self.process = None
        return status, time.monotonic() - began

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Cluster:
    database_url: str
    workers: list[LiveServer] = field(default_factory=list)
    emulator: LiveServer | None = None
    relays: list[RelayProcess] = field(default_factory=list)

    def relay(self) -> RelayProcess:
        """One more relay process (not started), with the first worker's environment."""
        worker = self.workers[0]
        relay = RelayProcess(worker.env, worker.log_path.with_name(f"relay{len(self.relays)}.log"))
        self.relays.append(relay)
        return relay

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
    relays: int = 0,
) -> Iterator[Cluster]:
    """`workers` server processes sharing one fresh PostgreSQL database, dropped afterwards.

    With `emulator`, one more process serves only the emulator (its dispatcher off) and every
    demo bot talks to it, so its record of what the bot received survives a worker's death.
    With `relays`, the production layout: the workers run no dispatcher
    (KORE_DISPATCHER=false) and that many `manage.py relay` processes forward.
    """
    with postgres_database("kc_cluster") as url:
        group = Cluster(url)
        common = {**RELAY_ENV, "KORE_ALLOW_LOOPBACK_UPSTREAM": "true", **(env or {})}
        if relays:
            common["KORE_DISPATCHER"] = "false"
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
            for _ in range(relays):
                group.relay().start()
            yield group
        finally:
            for relay in group.relays:
                relay.kill()
            for server in servers:
                server.stop(kill=True)
