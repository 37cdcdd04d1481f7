"""The one error format of the API: {"error": {"code": "<slug>", "message": "<human text>"}}.

The domain raises `ApplicationError` (webclient/errors.py) with a kind; here, and only here,
a kind becomes a status code. `error_answer` builds status, body and headers for every path
that answers an error: DRF views (`exception_handler`), plain Django views and middleware
(`error_response`) and the bare ASGI long-poll handler.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from django.views.defaults import server_error as default_server_error
from rest_framework import exceptions
from rest_framework.response import Response

from webclient.errors import ApplicationError, Kind
from webclient.security import ratelimit

STATUS: dict[Kind, int] = {
    Kind.INVALID: 400,
    Kind.UNAUTHENTICATED: 401,
    Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404,
    Kind.METHOD_NOT_ALLOWED: 405,
    Kind.NOT_ACCEPTABLE: 406,
    Kind.CONFLICT: 409,
    Kind.TOO_LARGE: 413,
    Kind.UNSUPPORTED_MEDIA_TYPE: 415,
    Kind.RATE_LIMITED: 429,
    Kind.INTERNAL: 500,
    Kind.UPSTREAM_FAILED: 502,
    Kind.UNAVAILABLE: 503,
    Kind.UPSTREAM_TIMEOUT: 504,
}
_KIND_OF_STATUS = {status: kind for kind, status in STATUS.items()}


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def error_answer(exc: ApplicationError) -> ErrorAnswer:
    """Status, body and headers for a domain error: the one place they are decided."""
    headers: dict[str, str] = {}
    if exc.kind is Kind.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = "Bearer"
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    body = {"error": {"code": exc.code, "message": exc.message, **exc.extra}}
    return ErrorAnswer(STATUS[exc.kind], body, headers)


def error_response(exc: ApplicationError) -> JsonResponse:
    """The error as a plain Django response, for code that runs outside DRF views."""
    answer = error_answer(exc)
    response = JsonResponse(answer.body, status=answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    return response


def _from_django(exc: SuspiciousOperation) -> ApplicationError:
    # Django refuses some bodies while parsing them (too many form fields, too large a
    # body); those are bad input and leave as 4xx in the API format, never as a 500.
    if isinstance(exc, RequestDataTooBig):
        return ApplicationError("body_too_large", "The body is too large.", Kind.TOO_LARGE)
    return ApplicationError("invalid_request", "The request is malformed.")


# Seconds a client is told to wait when the database does not answer.
DATABASE_RETRY_AFTER = 5


# The database errors that say it is unreachable (not that a query was wrong).
DATABASE_DOWN = (OperationalError, InterfaceError)


def database_unavailable() -> ApplicationError:
    """An unreachable database as the client sees it (503)."""
    return ApplicationError(
        "database_unavailable",
        "The service cannot reach its database; try again shortly.",
        Kind.UNAVAILABLE,
        retry_after=DATABASE_RETRY_AFTER,
    )


def _from_drf(exc: exceptions.APIException) -> ApplicationError:
    if isinstance(exc, exceptions.ValidationError):
        return ApplicationError(
            "invalid_request",
            _first_message(exc.detail),
            extra={"fields": exc.detail} if isinstance(exc.detail, dict) else None,
        )
    if isinstance(exc, exceptions.ParseError):
        return ApplicationError("malformed_body", "The body is not valid JSON.")
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return ApplicationError(
            "unsupported_media_type",
            "Send the body as application/json.",
            Kind.UNSUPPORTED_MEDIA_TYPE,
        )
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        return ApplicationError("invalid_token", str(exc.detail), Kind.UNAUTHENTICATED)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return ApplicationError("method_not_allowed", str(exc.detail), Kind.METHOD_NOT_ALLOWED)
    if isinstance(exc, exceptions.Throttled):
        return ratelimit.rate_limited(int(getattr(exc, "wait", None) or 1))
    # Permission classes name their refusal (e.g. origin_not_allowed) in the detail's code.
    code = getattr(exc.detail, "code", None) or exc.default_code
    kind = _KIND_OF_STATUS.get(exc.status_code, Kind.INTERNAL)
    return ApplicationError(str(code), str(exc.detail), kind)


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for field, value in detail.items():
            prefix = "" if field == "non_field_errors" else f"{field}: "
            return prefix + _first_message(value)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler: every known failure leaves in the one format."""
    if isinstance(exc, Http404):
        exc = ApplicationError("not_found", "Not found.", Kind.NOT_FOUND)
    elif isinstance(exc, exceptions.APIException):
        exc = _from_drf(exc)
    elif isinstance(exc, SuspiciousOperation):
        exc = _from_django(exc)
    elif isinstance(exc, DATABASE_DOWN):
        exc = database_unavailable()
    if not isinstance(exc, ApplicationError):
        return None
    answer = error_answer(exc)
    return Response(answer.body, status=answer.status, headers=answer.headers)


API_PREFIXES = ("/api/", "/hooks/", "/kore/api/", "/kore/chatbot/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 handler: API paths answer in the API's format, pages as pages."""
    if request.path.startswith(API_PREFIXES):
        return error_response(ApplicationError("not_found", "Not found.", Kind.NOT_FOUND))
    return page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler: never a stack trace, and the API's format on API paths. An
    unreachable database (the exception being handled) is a 503 with Retry-After instead,
    on every path."""
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_DOWN):
        refusal = database_unavailable()
        if request.path.startswith(API_PREFIXES):
            return error_response(refusal)
        page = HttpResponse(refusal.message, status=503, content_type="text/plain")
        page["Retry-After"] = str(refusal.retry_after)
        return page
    if request.path.startswith(API_PREFIXES):
        return error_response(
            ApplicationError("server_error", "Something went wrong on our side.", Kind.INTERNAL)
        )
    return default_server_error(request)
