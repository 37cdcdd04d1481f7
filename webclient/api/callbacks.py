"""`POST /hooks/kore/<slug>/<secret>/`: the platform's asynchronous bot messages (POST_URL).

CSRF-exempt and token-free by design: the caller is Kore's platform, not a browser, so it has
neither our cookies nor a chat token, and there are no browser credentials to abuse here.
What authenticates it is the callback secret the admin put into the POST_URL, compared in
constant time. Unknown bot and wrong secret get the same 404, so the route reveals nothing.

The body cap (KORE_CALLBACK_MAX_BYTES, 413) is enforced before any view runs, by
webclient.security.limits. Only refused attempts are rate-limited, per calling address
(webclient.security.ratelimit), and a delivery with the right secret is never refused by
that limit: it stops a noisy guesser without ever throttling the platform's real deliveries,
whoever shares its address. Guessing itself is hopeless: the secret has at least 96 bits.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from webclient import metrics, selectors
from webclient.api.errors import error_response
from webclient.errors import ApplicationError, Kind
from webclient.kore import callbacks
from webclient.security import ratelimit
from webclient.security.limits import json_loads

log = logging.getLogger(__name__)


def _secret_matches(expected: str, given: str) -> bool:
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


@csrf_exempt
@require_POST
def kore_callback(request: HttpRequest, slug: str, secret: str) -> JsonResponse:
    try:
        bot = selectors.bot_by_callback(slug=slug)
        if bot is None or not _secret_matches(bot.callback_secret, secret):
            # Answered 429 once this address refused too often, 404 before; a delivery with
            # the right secret is never counted nor throttled, whoever else fails from the
            # same address (the platform's egress may be shared).
            retry_after = ratelimit.count_callback_refusal(request)
            if retry_after is not None:
                metrics.rate_limited(ratelimit.CALLBACK_REFUSALS_PER_IP.name)
                raise ratelimit.rate_limited(retry_after)
            metrics.callback_received(bot.slug if bot else "-", "refused")
            raise ApplicationError("not_found", "Not found.", Kind.NOT_FOUND)
        body: Any = json_loads(request.body)
    except ApplicationError as exc:
        return error_response(exc)
    if not isinstance(body, dict):
        return error_response(
            ApplicationError("invalid_request", "The body must be a JSON object.")
        )
    received = callbacks.receive(bot, body)
    metrics.callback_received(bot.slug, received.status)
    log.info(
        "bot %s: callback %s, %d message(s) stored", bot.slug, received.status, received.stored
    )
    # Unknown users are answered 200 too: the platform must not retry what can never
    # succeed, and nothing is stored for them.
    return JsonResponse(
        {"status": received.status, "stored": received.stored, "reason": received.reason}
    )
