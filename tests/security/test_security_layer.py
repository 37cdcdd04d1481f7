"""The security pieces taken from libraries: JSON log lines (python-json-logger) keep the
redaction, the chat page's frame-ancestors (django-csp) follow the bot, and cross-origin
access (django-cors-headers' check_request_enabled signal) follows the enabled bots."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from webclient.logs import logging_config

SECRET = "s3cr3t-callback-token_0123456789"
URL = f"http://127.0.0.1:8000/hooks/kore/demo/{SECRET}/"


def built(spec: dict[str, Any]) -> Any:
    spec = dict(spec)
    module, _, name = spec.pop("()").rpartition(".")
    return getattr(__import__(module, fromlist=[name]), name)(**spec)


@pytest.fixture
def json_lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose only handler is the console of LOG_FORMAT=json's configuration."""
    config = logging_config(log_format="json", level="INFO")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(built(config["formatters"]["main"]))
    for name in config["handlers"]["console"]["filters"]:
        handler.addFilter(built(config["filters"][name]))
    logger = logging.getLogger("tests.json-lines")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_carries_a_traceback_with_its_secrets_redacted(
    json_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_lines
    try:
        raise ConnectionError(f"cannot reach {URL}")
    except ConnectionError:
        logger.exception("relay failed")
    [line] = lines(stream)
    assert SECRET not in stream.getvalue()
    assert line["message"] == "relay failed"
    assert line["exception"].startswith("Traceback (most recent call last):")
    redacted = "ConnectionError: cannot reach http://127.0.0.1:8000/hooks/kore/demo/***/"
    assert redacted in (line["exception"])


def test_a_json_line_has_its_own_fields_and_no_other_extras(
    json_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_lines
    logger.info("message %s accepted", 7, extra={"message_ids": [7], "request": URL})
    [line] = lines(stream)
    assert set(line) == {"time", "level", "logger", "message", "request_id", "message_ids"}
    assert (line["level"], line["logger"], line["message"], line["request_id"]) == (
        "INFO",
        "tests.json-lines",
        "message 7 accepted",
        "-",
    )
    assert line["message_ids"] == [7]
    assert SECRET not in stream.getvalue()


def test_an_access_line_in_json_names_its_parts(
    json_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_lines
    access = logging.getLogger("uvicorn.access")
    record = access.makeRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "POST", f"/hooks/kore/demo/{SECRET}/", "1.1", 200),
        None,
    )
    logger.handle(record)
    [line] = lines(stream)
    assert line["message"] == '127.0.0.1:5 - "POST /hooks/kore/demo/***/ HTTP/1.1" 200'
    assert (line["client"], line["method"], line["path"], line["http_version"]) == (
        "127.0.0.1:5",
        "POST",
        "/hooks/kore/demo/***/",
        "1.1",
    )
    assert line["status"] == 200
