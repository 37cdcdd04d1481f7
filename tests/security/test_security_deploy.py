"""`manage.py check --deploy` with production settings, in a fresh process."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path: Path, **env: str) -> dict[str, str]:
    """The environment of a production install (DEBUG off), with `env` on top."""
    production = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "chat.example.com",
        "SITE_ROOT": "https://chat.example.com",
        "HTTPS": "true",
        "DB_PATH": str(tmp_path / "db.sqlite3"),
        "STATIC_ROOT": str(tmp_path / "static"),
        **env,
    }
    production.pop("DJANGO_SETTINGS_MODULE", None)
    return production


def check_deploy(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", *args],
        cwd=ROOT,
        env=production_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_passes_with_production_settings(tmp_path: Path) -> None:
    result = check_deploy(tmp_path)
    assert result.returncode == 0, result.stderr
    # The one remaining note is HSTS preloading, a commitment the operator opts into.
    issues = [line for line in result.stderr.splitlines() if "(security." in line]
    assert [line.split(")")[0] for line in issues] == ["?: (security.W021"], result.stderr


def test_check_deploy_reports_no_issue_at_all_once_hsts_preload_is_chosen(
    tmp_path: Path,
) -> None:
    result = check_deploy(tmp_path, "--fail-level", "WARNING", SECURE_HSTS_PRELOAD="true")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path: Path) -> None:
    result = check_deploy(tmp_path, SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
