"""Caps on what a request may carry: body size (413) and JSON nesting depth (400).

Body caps (API_MAX_BODY_BYTES on /api/ and /kore/ but uploads, KORE_CALLBACK_MAX_BYTES on /hooks/,
MAX_BODY_BYTES elsewhere) are checked as the body arrives under ASGI (webclient/api/bodycap.py),
and again before any view reads it (webclient/api/middleware.py applies `too_large`, which is
what the WSGI development server has). Nesting
is checked before parsing: Python's json module recurses once per level, and a body of 64 KB
of "[" would otherwise end in RecursionError, a 500.

Every check here is linear in the body, whatever its content: a check that is quadratic on
some input (a string pattern retried from every quote of an unterminated string took 10 s
on 64 KB) lets one anonymous request hold the GIL, and so the whole server.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from webclient.errors import ApplicationError, Kind

# One token of a depth scan: a JSON string, or any one bracket. The string is the "unrolled
# loop" form, each character consumed once, and its closing quote is optional: an
# unterminated string runs to the end of the text in one match instead of failing and
# being retried from every later quote (which made the scan quadratic).
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
_OPENING = frozenset("[{")


# Room for the multipart envelope around an attachment.
MULTIPART_OVERHEAD = 64 * 1024
# Where Kore's Web SDK uploads a file (webclient/kore_sdk/uploads.py): it sends the file
# twice (as `file` and `thumbnail`), each base64 (4 bytes for every 3).
KORE_SDK_UPLOADS = ("/kore/api/attachments/file/", "/kore/api/1.1/attachment/file")


def body_cap(path: str) -> int:
    """The most bytes of body a request to `path` may carry."""
    if path == "/api/v1/attachments":
        return int(settings.ATTACHMENT_MAX_BYTES) + MULTIPART_OVERHEAD
    if path.startswith(KORE_SDK_UPLOADS):
        return 2 * -(-4 * int(settings.ATTACHMENT_MAX_BYTES) // 3) + MULTIPART_OVERHEAD
    if path.startswith(("/api/", "/kore/")):
        return int(settings.API_MAX_BODY_BYTES)
    if path.startswith("/hooks/"):
        return int(settings.KORE_CALLBACK_MAX_BYTES)
    return int(settings.MAX_BODY_BYTES)


def body_size(request: HttpRequest) -> int:
    """The larger of the declared and the received size.

    Under ASGI, Django has already received the whole body into a temporary file, and a
    chunked request declares no length at all: measure the file instead of trusting the
    header. Under WSGI the stream is bounded by Content-Length anyway.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if isinstance(request, ASGIRequest):
        stream = request._stream
        position = stream.tell()
        stream.seek(0, io.SEEK_END)
        received = stream.tell()
        stream.seek(position)
        return max(declared, received)
    return declared


def body_too_large(cap: int) -> ApplicationError:
    return ApplicationError(
        "body_too_large", f"The body is larger than {cap} bytes.", Kind.TOO_LARGE
    )


def too_large(request: HttpRequest) -> ApplicationError | None:
    cap = body_cap(request.path)
    return body_too_large(cap) if body_size(request) > cap else None


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than `limit`: one pass over the text."""
    depth = 0
    for token in _TOKEN.finditer(text):
        char = token.group()[0]
        if char == '"':
            continue
        if char in _OPENING:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def json_loads(raw: bytes | str, encoding: str = "utf-8") -> Any:
    """Parse a JSON body with the depth cap; an INVALID ApplicationError for non-JSON.

    For views outside DRF (the Kore callback): they get the same rules as the API.
    """
    try:
        text = raw if isinstance(raw, str) else codecs.decode(raw, encoding)
    except (LookupError, UnicodeDecodeError):
        raise ApplicationError("malformed_body", "The body is not valid JSON.") from None
    limit = int(settings.JSON_MAX_DEPTH)
    if json_depth_exceeds(text, limit):
        raise ApplicationError("too_deeply_nested", f"The JSON nests deeper than {limit} levels.")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        raise ApplicationError("malformed_body", "The body is not valid JSON.") from None


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python accepts them unless told not to.
    raise ValueError(f"{name} is not valid JSON")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the depth cap and an unknown charset as bad input."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json_loads(stream.read(), encoding)
        except ApplicationError as exc:
            if exc.code == "too_deeply_nested":
                raise
            raise ParseError(exc.message) from None
