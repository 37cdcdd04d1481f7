"""The one error type of the domain: what went wrong, in words and in kind, never in HTTP.

Services, selectors, `sts` and `security` raise `ApplicationError` (HackSoft's pattern).
Only the API layer (webclient/api/errors.py) turns a kind into a status code, headers and
the one error body.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What sort of failure this is, as a caller would act on it."""

    INVALID = "invalid"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    CONFLICT = "conflict"
    TOO_LARGE = "too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    INTERNAL = "internal"
    UPSTREAM_FAILED = "upstream_failed"
    UNAVAILABLE = "unavailable"
    UPSTREAM_TIMEOUT = "upstream_timeout"


class ApplicationError(Exception):
    """A failure the caller is told about: a stable `code` slug and a human `message`.

    `extra` adds fields next to code and message (e.g. `fields` for per-field problems);
    `retry_after` is how many seconds to wait before trying again, when that is known.
    """

    def __init__(
        self,
        code: str,
        message: str,
        kind: Kind = Kind.INVALID,
        *,
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.kind = kind
        self.extra = extra or {}
        self.retry_after = retry_after
