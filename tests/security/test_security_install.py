"""A fresh production install (DEBUG off, KORE_EMULATOR unset) is closed: no emulator is
served and `migrate` creates no bot; the demo bots exist only once `seed_demo` is run."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from tests.liveserver import ROOT, LiveServer
from tests.security.test_security_deploy import production_env

DEMO_SLUGS = ["demo", "demo-v1-async", "demo-v1-sync", "demo-v2-async"]


def production_server(tmp_path: Path, **env: str) -> LiveServer:
    """A server with production settings on loopback: plain HTTP, its own SQLite file."""
    production = production_env(tmp_path, ALLOWED_HOSTS="127.0.0.1", HTTPS="false", **env)
    del production["SITE_ROOT"]  # the server's own loopback URL
    server = LiveServer(tmp_path / "db.sqlite3", production)
    if "KORE_EMULATOR" not in env:
        server.env.pop("KORE_EMULATOR", None)
    return server


def manage(server: LiveServer, *command: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *command], cwd=ROOT, env=server.env, check=True, timeout=60
    )


def rows(db: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


def tables(db: Path) -> set[str]:
    return {str(name) for (name,) in rows(db, "SELECT name FROM sqlite_master WHERE type='table'")}


def test_a_production_install_has_no_bot_and_no_emulator_and_still_answers_readyz(
    tmp_path: Path,
) -> None:
    server = production_server(tmp_path)
    manage(server, "migrate", "--no-input", "-v0")
    assert rows(server.db_path, "SELECT slug FROM webclient_bot") == []
    assert "emulator_emulatedwebhook" not in tables(server.db_path)
    server.start()
    try:
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"]["code"] == "no_bots"
        for method, path in [
            ("POST", "/emulator/chatbot/v2/webhook/st-1"),
            ("POST", "/emulator/chatbot/hooks/st-1"),
            ("GET", "/emulator/api/botmeta/st-1"),
            ("GET", "/emulator/api/chathistory/st-1/ivr"),
            ("GET", "/emulator/_control/received"),
            ("POST", "/emulator/_control/reset"),
        ]:
            assert httpx.request(method, f"{server.url}{path}").status_code == 404, path
        token = httpx.post(f"{server.url}/api/v1/sts", json={"bot": "demo", "identity": "eve"})
        assert token.status_code == 404
        assert "jwt" not in token.json()
    finally:
        server.stop()
    assert rows(server.db_path, "SELECT slug FROM webclient_bot") == []


def test_only_seed_demo_creates_the_demo_bots_and_running_it_again_changes_nothing(
    tmp_path: Path,
) -> None:
    server = production_server(tmp_path, KORE_EMULATOR="true")
    manage(server, "migrate", "--no-input", "-v0")
    assert rows(server.db_path, "SELECT slug FROM webclient_bot") == []
    bots = "SELECT slug, bot_id, client_id, client_secret FROM webclient_bot ORDER BY slug"
    channels = "SELECT bot_id, instance_id, client_id FROM emulator_emulatedwebhook ORDER BY id"
    manage(server, "seed_demo", "-v0")
    seeded, seeded_channels = rows(server.db_path, bots), rows(server.db_path, channels)
    assert [slug for slug, *_ in seeded] == DEMO_SLUGS
    assert len(seeded_channels) == len(DEMO_SLUGS)
    manage(server, "seed_demo", "-v0")
    assert rows(server.db_path, bots) == seeded
    assert rows(server.db_path, channels) == seeded_channels
