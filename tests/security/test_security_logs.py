"""The redaction filter of settings.LOGGING, on every shape a secret can take in a record."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.conf import settings

from kore_chat.redact import redact

SECRET = "s3cr3t-callback-token_0123456789"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
URL = f"http://127.0.0.1:8000/hooks/kore/demo/{SECRET}/"


def logging_settings() -> dict[str, Any]:
    config: dict[str, Any] = settings.LOGGING
    return config


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose only handler is configured like settings.LOGGING's console."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    config = logging_settings()
    handler.setFormatter(logging.Formatter(config["formatters"]["main"]["format"]))
    for name in config["handlers"]["console"]["filters"]:
        spec = dict(config["filters"][name])
        module, _, cls = spec.pop("()").rpartition(".")
        handler.addFilter(getattr(__import__(module, fromlist=[cls]), cls)(**spec))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_every_shape_of_a_secret_in_a_record_is_redacted(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    # the access line, httpx's request line (a URL object), the emulator's warning.
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "POST", URL[21:], "1.1", 200)
    logger.info('HTTP Request: %s %s "%s %d %s"', "POST", httpx.URL(URL), "HTTP/1.1", 200, "OK")
    logger.warning("emulator callback to %s failed: %s", URL, OSError(f"refused {URL}"))
    logger.debug("%(url)s answered", {"url": URL})
    logger.debug(f"plain message with {URL} and Authorization: Bearer {JWT}")
    logger.debug("token %s", JWT)
    logger.debug("no trailing slash /hooks/kore/demo/%s", SECRET)
    try:
        raise httpx.ConnectError(f"cannot reach {URL}")
    except httpx.ConnectError:
        logger.exception("relay failed")
    text = stream.getvalue()
    assert SECRET not in text
    assert JWT not in text
    assert text.count("/hooks/kore/demo/***") == 8
    assert "200" in text and "relay failed" in text


def test_the_filter_sits_on_every_logger_that_sees_urls() -> None:
    config = logging_settings()
    for name in (
        "django",
        "granian.access",
        "_granian",
        "httpx",
        "httpcore",
        "django.request",
    ):
        assert "redact" in config["loggers"][name]["filters"]
    assert "redact" in config["root"]["filters"]


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("BEARER opaque-token-1", "BEARER ***"),
        ("auth: bEaReR\topaque-token-1 end", "auth: bEaReR\t*** end"),
        (f"POST /hooks/kore/demo/{SECRET}?x=1", "POST /hooks/kore/demo/***?x=1"),
        (f"token={JWT}", "token=***"),
        (f"GET /x?a=Bearer%20{JWT} HTTP/1.1", "GET /x?a=Bearer%20*** HTTP/1.1"),
        ("GET /x?auth=bearer+opaque-token-1&y=2", "GET /x?auth=bearer+***&y=2"),
        (f"GET /x?t=%20{JWT}", "GET /x?t=%20***"),
        (
            "GET /?bot=d&identity=a&identityHash=9f0a&x=1 HTTP/1.1",
            "GET /?bot=d&identity=a&identityHash=***&x=1 HTTP/1.1",
        ),
        ("GET /?identityhash%3D9f0a HTTP/1.1", "GET /?identityhash%3D*** HTTP/1.1"),
        ('{"identity": "a", "identityHash": "9f0a"}', '{"identity": "a", "identityHash": "***"}'),
        ("{'identityHash': '9f0a'}", "{'identityHash': '***'}"),
        ('"GET /attachments/k3y%3A1xZ%3As1g HTTP/1.1" 200', '"GET /attachments/*** HTTP/1.1" 200'),
        ("http://h/attachments/k3y:1xZ:s1g?x", "http://h/attachments/***?x"),
        ("POST /api/v1/attachments HTTP/1.1", None),
        ("GET /api/v1/messages?after=12&wait=25 HTTP/1.1", None),
    ],
)
def test_the_quick_look_for_a_secret_misses_none_of_the_redactions(
    text: str, redacted: str | None
) -> None:
    assert redact(text) == (text if redacted is None else redacted)
