"""Logging: plain or JSON lines (LOG_FORMAT), and the request id that follows a message.

Request id: every request gets one (`X-Request-ID` when the caller sends a sane one, else a
new one), answered in the `X-Request-ID` header and carried in a context variable. A user
message stores the id of the request that sent it (`Message.request_id`); the dispatcher
forwards it under that id, and a callback or a poll chain stores the bot's answer under it,
so one id ties together the send, the forward, the callback and the delivery. With
LOG_FORMAT=json each line is one JSON object with `request_id` (and `message_ids` where a
line is about messages).

Each 4xx is logged once: by the server's access line. Django's `django.request` logger
would log it again ("Not Found: /x"), and in DEBUG once more through Django's own console
handler; `logging_config` drops both (5xx are still logged, with their traceback).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import pythonjsonlogger.json
from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.decorators import sync_and_async_middleware

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from a caller (a proxy's id): short and plain, so it cannot forge log lines.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")

log = logging.getLogger(__name__)

_request_id: ContextVar[str] = ContextVar("request_id", default="")


def current_request_id() -> str:
    return _request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(given: str | None) -> str:
    return given if given and SANE_REQUEST_ID.fullmatch(given) else new_request_id()


@contextmanager
def request_id_bound(request_id: str) -> Iterator[None]:
    """Log (and store messages) under `request_id` for the duration of the block."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def adopt_request_id(message: Any) -> None:
    """Go on under the request id of `message` (a user message being forwarded or
    answered), so that the lines and the bot messages that follow carry it."""
    if message is not None:
        _request_id.set(message.request_id or new_request_id())


Handler = Callable[[HttpRequest], Any]


@sync_and_async_middleware
def request_id_middleware(get_response: Handler) -> Handler:
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponseBase:
            request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
            with request_id_bound(request_id):
                response: HttpResponseBase = await get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            return response

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponseBase:
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        with request_id_bound(request_id):
            response: HttpResponseBase = get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response

    return middleware


def about(message: Any) -> dict[str, Any]:
    """`extra=` for a line about one message."""
    return {"message_ids": [message.pk]}


def delivered(messages: list[dict[str, Any]], request_ids: tuple[str, ...]) -> None:
    """The line of a poll that answered messages: their ids and the requests they follow."""
    if messages:
        ids = [m["id"] for m in messages]
        log.info(
            "delivered message(s) %s",
            ", ".join(map(str, ids)),
            extra={
                "message_ids": ids,
                "followed_request_ids": sorted({r for r in request_ids if r}),
            },
        )


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (`%(request_id)s` in plain format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = current_request_id() or "-"
        return True


# Answered 503 by design while not ready, and logged once per change by its view.
QUIET_503_PATHS = frozenset({"/readyz"})


class SkipClientErrors(logging.Filter):
    """For `django.request`: a 4xx is already the access log's line, and so is a 503 of the
    readiness probe (its view logs each change of readiness once)."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            return False
        path = getattr(getattr(record, "request", None), "path", None)
        return not (status == 503 and path in QUIET_503_PATHS)


# The access record, as AccessLine leaves it: args are (client, method, target, HTTP
# version, status), the fields of the line uvicorn used to write.
ACCESS_LOGGER = "granian.access"
ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")
ACCESS_LINE = '%s - "%s %s HTTP/%s" %d'

# What a line may carry besides its own fields: a record's other extras (Django's request
# object, a server's own fields) stay out, as the redaction filter does not read them.
EXTRA_FIELDS = ("message_ids", "followed_request_ids", "status_code")
LINE_FIELDS = frozenset(
    {"time", "level", "logger", "message", "request_id", "exception", "stack_info"}
    | {*ACCESS_FIELDS, *EXTRA_FIELDS}
)


class AccessLine(logging.Filter):
    """For granian's access logger: its record (a dict of fields) becomes our line, the
    request target with its query string (which granian keeps apart)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.args
        if isinstance(fields, dict) and "addr" in fields:
            query = fields.get("query_string") or ""
            target = f"{fields['path']}?{query}" if query else fields["path"]
            version = str(fields.get("protocol", "")).removeprefix("HTTP/")
            record.msg = ACCESS_LINE
            record.args = (fields["addr"], fields["method"], target, version, fields["status"])
        return True


class JsonFormatter(pythonjsonlogger.json.JsonFormatter):
    """One JSON object per line, by python-json-logger: time, level, logger, message,
    request id, and the fields a line carries (access lines become method, path,
    status…).

    A traceback is the one the redaction filter (kore_chat/redact.py) left in
    `record.exc_text`: the library would format `record.exc_info` anew, secrets included.
    """

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message", "request_id"],
            rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
            timestamp="time",
            json_ensure_ascii=False,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        if record.exc_text:
            log_data["exception"] = record.exc_text
        if record.name == ACCESS_LOGGER and isinstance(record.args, tuple):
            log_data.update(zip(ACCESS_FIELDS, record.args, strict=False))

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in log_data.items() if name in LINE_FIELDS}


PLAIN = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """settings.LOGGING: one console handler everything goes through exactly once.

    The `redact` filter (kore_chat/redact.py) rewrites callback secrets, bearer tokens and
    JWTs in every record at every level: on the handler, so records of any logger pass
    through it, and on the loggers that see URLs, in case something adds a handler of its
    own. `python -m kore_chat.serve` hands this configuration to granian too.
    """
    formatter = (
        {"()": "webclient.logs.JsonFormatter"} if log_format == "json" else {"format": PLAIN}
    )
    single = {"handlers": ["console"], "propagate": False, "filters": ["redact"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "redact": {"()": "kore_chat.redact.RedactSecrets"},
            "request_id": {"()": "webclient.logs.RequestIdFilter"},
            "skip_client_errors": {"()": "webclient.logs.SkipClientErrors"},
            "access_line": {"()": "webclient.logs.AccessLine"},
        },
        "formatters": {"main": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "main",
                "filters": ["redact", "request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level, "filters": ["redact"]},
        "loggers": {
            # Replaces Django's own DEBUG console handler: a record is written once, by root.
            "django": {"handlers": [], "propagate": True, "filters": ["redact"]},
            "django.request": {"filters": ["redact", "skip_client_errors"]},
            "django.server": {"filters": ["redact"]},
            "httpx": {"filters": ["redact"]},
            "httpcore": {"filters": ["redact"]},
            # granian's lines in the same format (its own handlers are replaced); "_granian"
            # is the logger of its server (and of its Rust core).
            "_granian": {**single, "level": level},
            ACCESS_LOGGER: {**single, "filters": ["access_line", "redact"], "level": "INFO"},
        },
    }
