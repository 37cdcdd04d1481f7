"""`make run` on another port, as a newcomer runs it in a fresh clone: the management
commands they run next agree with the server on SITE_ROOT without exporting anything."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.liveserver import ROOT, free_port


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """The checkout's files as a clone has them (no var/), sharing this checkout's .venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    target = tmp_path / "kore-chat"
    for name in listed:
        if name.startswith(".venv") or "node_modules" in name:
            continue
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to((ROOT / ".venv").resolve())
    return target


@pytest.fixture
def running(clone: Path) -> Iterator[tuple[Path, int]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_ROOT", "DATABASE_URL")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = (clone / "make-run.log").open("wb")
    make = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert make.poll() is None, (clone / "make-run.log").read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (clone / "make-run.log").read_text()[-3000:]
            time.sleep(0.2)
        yield clone, port
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=30)


def test_after_make_run_on_another_port_check_upstream_reaches_that_server(
    running: tuple[Path, int],
) -> None:
    clone, port = running
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_ROOT", "PORT", "DATABASE_URL")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    checked = subprocess.run(
        [".venv/bin/python", "manage.py", "check_upstream", "demo"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    shown = (
        subprocess.run(
            [
                ".venv/bin/python",
                "manage.py",
                "shell",
                "-c",
                "from django.conf import settings\nprint(settings.SITE_ROOT)",
            ],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert shown == f"http://127.0.0.1:{port}"


def readme_refusal_command() -> str:
    """The README's command (step 5) that shows the origin check at work in development."""
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("to see a refusal:") :].split("```", 2)[1]
    return " ".join(line.strip().rstrip("\\") for line in block.splitlines()[1:])


def test_the_readmes_refusal_command_is_refused_then_allowed_once_the_origin_is_added(
    running: tuple[Path, int],
) -> None:
    clone, port = running
    command = readme_refusal_command().replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    refused = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
    assert refused.stdout.startswith("HTTP/1.1 403"), refused.stdout
    assert '"code":"origin_not_allowed"' in refused.stdout.replace(" ", "")
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_ROOT", "DATABASE_URL")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run(
        [
            ".venv/bin/python",
            "manage.py",
            "shell",
            "-c",
            "from webclient.models import Bot\n"
            "bot = Bot.objects.get(slug='demo')\n"
            "bot.allowed_origins = 'https://elsewhere.example'\n"
            "bot.save()",
        ],
        cwd=clone,
        env=env,
        check=True,
        timeout=60,
    )
    deadline = time.monotonic() + 60
    while True:
        allowed = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
        if allowed.stdout.startswith("HTTP/1.1 200"):
            break
        # The server trusts its cached bots for BOT_CACHE_SECONDS (docs/deployment.md).
        assert time.monotonic() < deadline, allowed.stdout
        time.sleep(0.5)
