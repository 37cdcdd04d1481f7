"""The one error format of the API: {"error": {"code": "<slug>", "message": "<human text>"}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from django.views.defaults import server_error as default_server_error
from rest_framework import exceptions, status
from rest_framework.response import Response


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(exc: ApiError) -> JsonResponse:
    """The error as a plain Django response, for code that runs outside DRF views."""
    response = JsonResponse(error_body(exc.code, exc.message, **exc.extra), status=exc.status)
    for name, value in exc.headers.items():
        response[name] = value
    return response


def _from_django(exc: SuspiciousOperation) -> ApiError:
    # Django refuses some bodies while parsing them (too many form fields, too large a
    # body); those are bad input and leave as 4xx in the API format, never as a 500.
    if isinstance(exc, RequestDataTooBig):
        return ApiError(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "body_too_large", "The body is too large."
        )
    return ApiError(status.HTTP_400_BAD_REQUEST, "invalid_request", "The request is malformed.")


def _from_drf(exc: exceptions.APIException) -> ApiError:
    if isinstance(exc, exceptions.ValidationError):
        return ApiError(
            status.HTTP_400_BAD_REQUEST,
            "invalid_request",
            _first_message(exc.detail),
            extra={"fields": exc.detail} if isinstance(exc.detail, dict) else None,
        )
    if isinstance(exc, exceptions.ParseError):
        return ApiError(
            status.HTTP_400_BAD_REQUEST, "malformed_body", "The body is not valid JSON."
        )
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return ApiError(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as application/json.",
        )
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        return ApiError(
            status.HTTP_401_UNAUTHORIZED,
            "invalid_token",
            str(exc.detail),
            headers={"WWW-Authenticate": getattr(exc, "auth_header", None) or "Bearer"},
        )
    if isinstance(exc, exceptions.MethodNotAllowed):
        return ApiError(exc.status_code, "method_not_allowed", str(exc.detail))
    if isinstance(exc, exceptions.Throttled):
        return ApiError(exc.status_code, "rate_limited", str(exc.detail))
    return ApiError(exc.status_code, exc.default_code, str(exc.detail))


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
        exc = ApiError(status.HTTP_404_NOT_FOUND, "not_found", "Not found.")
    elif isinstance(exc, exceptions.APIException):
        exc = _from_drf(exc)
    elif isinstance(exc, SuspiciousOperation):
        exc = _from_django(exc)
    if not isinstance(exc, ApiError):
        return None
    return Response(
        error_body(exc.code, exc.message, **exc.extra), status=exc.status, headers=exc.headers
    )


API_PREFIXES = ("/api/", "/hooks/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 handler: API paths answer in the API's format, pages as pages."""
    if request.path.startswith(API_PREFIXES):
        return error_response(ApiError(404, "not_found", "Not found."))
    return page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler: never a stack trace, and the API's format on API paths."""
    if request.path.startswith(API_PREFIXES):
        return error_response(ApiError(500, "server_error", "Something went wrong on our side."))
    return default_server_error(request)
