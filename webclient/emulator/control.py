"""Test controls, served only when settings.DEBUG: inject failures, read what the bot got.

Out-of-process tests (a real server on loopback) use these; in-process tests may call
`faults.injector` and `state.state` directly.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from webclient.emulator.callbacks import dispatcher
from webclient.emulator.faults import injector
from webclient.emulator.state import state

MAX_WAIT = 30.0


def _debug_only() -> None:
    if not settings.DEBUG:
        raise Http404


def _bad_request(message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": "bad_request", "message": message}}, status=400)


@csrf_exempt
@require_POST
def fail_next(request: HttpRequest) -> JsonResponse:
    """`{"bot": "st-…", "status": 503, "count": 1, "retryAfter": 2}`: the bot's next calls fail."""
    _debug_only()
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
def received(request: HttpRequest) -> JsonResponse:
    """What the bot got (`?bot=st-…&user=…`): accepted bodies, every request, every callback.

    `?wait=<seconds>` first waits for queued async callbacks to go out.
    """
    _debug_only()
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
def reset(request: HttpRequest) -> JsonResponse:
    """Forget polls, sessions, transcripts, logs and queued failures."""
    _debug_only()
    state.reset()
    injector.clear()
    return JsonResponse({"ok": True})
