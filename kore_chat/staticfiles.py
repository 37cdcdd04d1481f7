"""Static files (STATIC_URL) served by WhiteNoise, and only those.

WhiteNoise's middleware is synchronous: anywhere in Django's ASGI chain it would cost every
request two trips between the event loop and a thread. This middleware, async-capable, hands
WhiteNoise only the requests under STATIC_URL (in a thread: it reads the disk) and passes
every other request on in the event loop. A path under STATIC_URL that names no file goes on
to Django too, which answers it (a 404).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import markcoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware

AsyncHandler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


def _no_file(request: HttpRequest) -> None:
    """WhiteNoise's next handler: the request names no static file."""
    return None


class StaticFilesMiddleware:
    sync_capable = False
    async_capable = True

    def __init__(self, get_response: AsyncHandler) -> None:
        self.get_response = get_response
        self.prefix = settings.STATIC_URL or "/static/"
        self.whitenoise = WhiteNoiseMiddleware(get_response=_no_file)
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith(self.prefix):
            response: HttpResponseBase | None = await sync_to_async(self.whitenoise)(request)
            if response is not None:
                return response
        return await self.get_response(request)
