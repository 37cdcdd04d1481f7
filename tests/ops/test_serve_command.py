"""The run command's own checks, before any server starts."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from kore_chat.serve import ACCESS_FORMAT, main
from webclient.logs import AccessLine


def test_several_workers_on_the_local_notifier_are_refused(
    settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.NOTIFY_BACKEND = "local"
    with pytest.raises(SystemExit) as exited:
        main(["--workers", "2"])
    assert exited.value.code == 2
    assert "several workers need a shared notifier" in capsys.readouterr().err


def test_a_header_deadline_beyond_granians_bounds_is_refused(
    settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.HTTP_HEADER_TIMEOUT = 61
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "HTTP_HEADER_TIMEOUT must be 1 to 60 seconds" in capsys.readouterr().err


def test_granians_access_record_becomes_our_access_line() -> None:
    fields = {
        "addr": "127.0.0.1",
        "method": "GET",
        "path": "/api/v1/messages",
        "query_string": "after=3",
        "protocol": "HTTP/1.1",
        "status": 200,
        "dt_ms": 1.5,
    }
    record = logging.LogRecord(
        "granian.access", logging.INFO, "", 0, ACCESS_FORMAT, (fields,), None
    )
    assert AccessLine().filter(record)
    assert record.getMessage() == '127.0.0.1 - "GET /api/v1/messages?after=3 HTTP/1.1" 200'
    assert record.args == ("127.0.0.1", "GET", "/api/v1/messages?after=3", "1.1", 200)
