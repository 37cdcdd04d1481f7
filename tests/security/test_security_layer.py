"""The security pieces taken from libraries: JSON log lines (python-json-logger) keep the
redaction, the chat page's frame-ancestors (django-csp) follow the bot, and cross-origin
access (django-cors-headers' check_request_enabled signal) follows the enabled bots."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from corsheaders.signals import check_request_enabled
from django.test import AsyncClient, Client
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.code_imports import WEBCLIENT, imported_modules
from webclient.logs import ACCESS_LOGGER, logging_config
from webclient.models import Bot

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
    assert redacted in line["exception"]


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
    # granian's access record, a dict of fields, made our line by the access logger's filter.
    config = logging_config(log_format="json", level="INFO")
    record = logging.getLogger(ACCESS_LOGGER).makeRecord(
        ACCESS_LOGGER,
        logging.INFO,
        __file__,
        1,
        "%(addr)s %(method)s %(path)s",
        (
            {
                "addr": "127.0.0.1:5",
                "method": "POST",
                "path": f"/hooks/kore/demo/{SECRET}/",
                "query_string": "",
                "protocol": "HTTP/1.1",
                "status": 200,
            },
        ),
        None,
    )
    assert built(config["filters"]["access_line"]).filter(record)
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


# CSP: django-csp's policy, with the chat page's frame-ancestors per bot

EMBEDDER = "https://shop.example.com"
PARTNER = "https://partner.example.org"


@pytest.fixture
def demo(db: None) -> Bot:
    bot = Bot.objects.get(slug="demo")
    bot.allowed_origins = EMBEDDER
    bot.save()
    return bot


def policy(answer: Any) -> dict[str, str]:
    parts = (part.strip().split(" ", 1) for part in answer["Content-Security-Policy"].split(";"))
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


def test_every_page_takes_its_policy_from_the_csp_setting(
    demo: Bot, settings: SettingsWrapper
) -> None:
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**directives, "img-src": ["'self'", "https://images.example"]}
    }
    for path in ("/?bot=demo", "/admin/login/", "/healthz"):
        assert policy(Client().get(path))["img-src"] == "'self' https://images.example", path


def test_the_chat_page_is_framed_by_its_own_bots_origins_as_they_are_now(demo: Bot) -> None:
    assert policy(Client().get("/?bot=demo"))["frame-ancestors"] == f"'self' {EMBEDDER}"
    demo.allowed_origins = f"{EMBEDDER}\n{PARTNER}"
    demo.save()
    answer = Client().get("/?bot=demo")
    assert policy(answer)["frame-ancestors"] == f"'self' {PARTNER} {EMBEDDER}"
    assert "X-Frame-Options" not in answer
    assert policy(Client().get("/?bot=demo-v1-sync"))["frame-ancestors"] == "'self'"
    other = Client().get("/admin/login/")
    assert policy(other)["frame-ancestors"] == "'none'"
    assert other["X-Frame-Options"] == "DENY"


# CORS: django-cors-headers asks the enabled bots through its check_request_enabled signal


def preflight(origin: str, path: str = "/api/v1/sts") -> Any:
    """A preflight through Django's async handler, as the ASGI server runs it: the bot
    lookup must happen off the event loop."""
    client = AsyncClient()
    return async_to_sync(client.options)(
        path, headers={"origin": origin, "access-control-request-method": "POST"}
    )


def test_an_async_preflight_from_a_bots_origin_is_allowed(demo: Bot) -> None:
    answer = preflight(EMBEDDER)
    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == EMBEDDER
    assert "Access-Control-Allow-Origin" not in preflight(PARTNER)


def test_the_bots_answer_the_librarys_signal_beside_any_other_receiver(demo: Bot) -> None:
    def partner_allowed(sender: Any, request: Any, **kwargs: Any) -> bool:
        return request.headers.get("origin") == PARTNER

    check_request_enabled.connect(partner_allowed, dispatch_uid="tests-partner")
    try:
        assert preflight(PARTNER)["Access-Control-Allow-Origin"] == PARTNER
        assert preflight(EMBEDDER)["Access-Control-Allow-Origin"] == EMBEDDER
    finally:
        check_request_enabled.disconnect(dispatch_uid="tests-partner")
    assert "Access-Control-Allow-Origin" not in preflight(PARTNER)


def test_a_bots_origin_gets_no_cors_outside_the_widget_api(demo: Bot) -> None:
    answer = Client().get("/healthz", headers={"origin": EMBEDDER})
    assert "Access-Control-Allow-Origin" not in answer


# Layering: security/ and the shared cache sit below the models


def webclient_imports(path: Path) -> set[str]:
    return {name for name in imported_modules(path) if name.startswith("webclient")}


def test_the_request_hardening_imports_only_what_sits_below_the_models() -> None:
    below = ("webclient.errors", "webclient.sharedcache", "webclient.security")
    for path in sorted((WEBCLIENT / "security").glob("*.py")):
        upward = {name for name in webclient_imports(path) if not name.startswith(below)}
        assert not upward, f"{path.name} imports {upward}"


def test_the_shared_cache_imports_nothing_of_the_relay() -> None:
    assert webclient_imports(WEBCLIENT / "sharedcache.py") == set()
