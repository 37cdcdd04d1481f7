"""Refuses an over-sized body (413) before any view reads it (the cap: security/limits.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.decorators import sync_and_async_middleware

from webclient.api.errors import error_response
from webclient.security.limits import too_large

Handler = Callable[[HttpRequest], Any]


@sync_and_async_middleware
def body_limit_middleware(get_response: Handler) -> Handler:
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponseBase:
            refused = too_large(request)
            if refused is not None:
                return error_response(refused)
            response: Awaitable[HttpResponseBase] = get_response(request)
            return await response

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponseBase:
        refused = too_large(request)
        if refused is not None:
            return error_response(refused)
        response: HttpResponseBase = get_response(request)
        return response

    return middleware
