"""Test controls: inject failures, read what the bot got (users' messages included).

Served only when settings.DEBUG, and then only to loopback clients: a request from another
address, or one that came through a proxy (it carries forwarding headers, and its peer
address is the proxy's), is refused. Out-of-process tests (a real server on loopback) use
these; in-process tests may call `faults.injector` and `state.state` directly.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from webclient.emulator.auth import seen_jtis
from webclient.emulator.callbacks import dispatcher
from webclient.emulator.faults import injector
from webclient.emulator.state import state

MAX_WAIT = 30.0
View = Callable[[HttpRequest], JsonResponse]
FORWARDING_HEADERS = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP")


def _is_loopback_client(request: HttpRequest) -> bool:
    if any(header in request.META for header in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


def _local_only(view: View) -> View:
    """The view, answering 404 without DEBUG and 403 to any client but this machine."""

    @wraps(view)
    def guarded(request: HttpRequest) -> JsonResponse:
        if not settings.DEBUG:
            raise Http404
        if not _is_loopback_client(request):
            return JsonResponse(
                {"error": {"code": "forbidden", "message": "Only served to loopback clients."}},
                status=403,
            )
        return view(request)

    return guarded


def _bad_request(message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": "bad_request", "message": message}}, status=400)


@csrf_exempt
@require_POST
@_local_only
def fail_next(request: HttpRequest) -> JsonResponse:
    """`{"bot": "st-…", "status": 503, "count": 1, "retryAfter": 2}`: the bot's next calls fail."""
    try:
        body: Any = json.loads(request.body)
        injector.fail_next(
            str(body["bot"]),
            int(body["status"]),
            count=int(body.get("count", 1)),
            retry_after=int(body["retryAfter"]) if body.get("retryAfter") is not None else None,
        )
    except (ValueError, KeyError, TypeError) as exc:
        return _bad_request(f"expected bot, a 4xx/5xx status, optional count/retryAfter: {exc}")
    return JsonResponse({"ok": True})


@require_GET
@_local_only
def received(request: HttpRequest) -> JsonResponse:
    """What the bot got (`?bot=st-…&user=…`): accepted bodies, every request, every callback.

    `?wait=<seconds>` first waits for queued async callbacks to go out.
    """
    bot, user = request.GET.get("bot"), request.GET.get("user")
    try:
        wait = min(float(request.GET.get("wait", 0)), MAX_WAIT)
    except ValueError:
        return _bad_request("wait must be a number of seconds")
    if wait > 0:
        dispatcher.wait_idle(wait)
    requests = state.requests(bot, user)
    return JsonResponse(
        {
            "received": [r["body"] for r in requests if r["status"] == 200],
            "requests": requests,
            "callbacks": state.callbacks(bot, user),
        }
    )


@csrf_exempt
@require_POST
@_local_only
def reset(request: HttpRequest) -> JsonResponse:
    """Forget polls, sessions, transcripts, logs, used jtis and queued failures."""
    state.reset()
    injector.clear()
    seen_jtis.clear()
    return JsonResponse({"ok": True})
