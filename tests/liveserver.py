"""A real server for end-to-end tests: granian in its own process, its own database.

It is the same command production runs (`python -m kore_chat.serve`), reached over loopback
HTTP; the relay inside it reaches its own emulator over loopback HTTP too. Its database is a
SQLite file, or, when the test run is on PostgreSQL (DATABASE_URL set), a PostgreSQL
database of its own, dropped when the tests end; `database_url` makes several servers share
one database instead.
"""

from __future__ import annotations

import atexit
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import psutil

from tests.servers import create_database, drop_database, session_uses_postgres

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# On PostgreSQL, servers given the same db_path (a restart) share one database.
_databases: dict[Path, str] = {}


def _postgres_database_for(db_path: Path) -> str:
    if db_path not in _databases:
        _databases[db_path] = create_database(os.environ["DATABASE_URL"], "kc_live")
        atexit.register(drop_database, _databases[db_path])
    return _databases[db_path]


class LiveServer:
    def __init__(
        self,
        db_path: Path,
        env: Mapping[str, str] | None = None,
        *,
        devserver: bool = False,
        database_url: str | None = None,
        access_log: bool = False,
        serve: str = "kore_chat.serve",
        options: Sequence[str] = (),
        open_files: int | None = None,
    ) -> None:
        self.devserver = devserver
        self.access_log = access_log
        # The module that runs the server (`python -m`) and its extra options: the benchmark
        # runs bench.serve, the product's server with its own routes added.
        self.serve = serve
        self.options = list(options)
        # The server process's open-file limit (soft and hard), when a test needs a small one.
        self.open_files = open_files
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_path = db_path
        self.env = {
            **os.environ,
            "DB_PATH": str(db_path),
            "SITE_ROOT": self.url,
            "DEBUG": "true",
            "LOG_LEVEL": "WARNING",
            # A server stopped with a forward in flight exits within `stop`'s wait.
            "KORE_RELAY_STOP_GRACE": "5",
            **(env or {}),
        }
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        if database_url is None and session_uses_postgres():
            database_url = _postgres_database_for(db_path)
        if database_url:
            self.env["DATABASE_URL"] = database_url
        else:
            self.env.pop("DATABASE_URL", None)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = db_path.with_suffix(".log")

    def migrate(self) -> None:
        """Migrate this server's database and seed the demo bots, as `make run` does."""
        for command in (["migrate", "--no-input"], ["seed_demo"]):
            subprocess.run(
                [sys.executable, "manage.py", *command, "-v0"],
                cwd=ROOT,
                env=self.env,
                check=True,
            )

    def start(self) -> LiveServer:
        log = self.log_path.open("ab")
        if self.devserver:
            command = ["manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"]
        else:
            command = ["-m", self.serve, "--host", "127.0.0.1", "--port", str(self.port)]
            command += [] if self.access_log else ["--no-access-log"]
            command += self.options
        self.process = subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=self._limit_open_files if self.open_files else None,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 30 s")

    def _limit_open_files(self) -> None:
        assert self.open_files is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, self.open_files))

    def shell(self, code: str) -> str:
        """The last line `code` prints, run by `manage.py shell` against this server's data."""
        output = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return output.strip().splitlines()[-1]

    @property
    def pid(self) -> int:
        """The server's main process (granian's), which runs the application in workers."""
        assert self.process is not None
        return self.process.pid

    def threads(self) -> int:
        """Threads of the main process and its workers."""
        main = psutil.Process(self.pid)
        return sum(p.num_threads() for p in [main, *main.children(recursive=True)])

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None
