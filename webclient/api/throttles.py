"""The rate-limit rules of webclient/security/ratelimit.py as DRF throttles.

Counting stays in `ratelimit.count` (Django's cache, fixed windows, RATELIMIT_* settings);
a refused request leaves as 429 rate_limited with Retry-After (webclient/api/errors.py).
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from webclient import metrics
from webclient.security import ratelimit
from webclient.sts import Principal


class RuleThrottle(BaseThrottle):
    rule: ClassVar[ratelimit.Rule]
    retry_after: int | None = None

    def key(self, request: Request) -> str:
        return ratelimit.client_ip(request)

    def allow_request(self, request: Request, view: Any) -> bool:
        self.retry_after = ratelimit.count(self.rule, self.key(request))
        if self.retry_after is not None:
            metrics.rate_limited(self.rule.name)
        return self.retry_after is None

    def wait(self) -> float | None:
        return self.retry_after


class StsPerIp(RuleThrottle):
    """Token requests and refreshes, per calling address."""

    rule = ratelimit.STS_PER_IP


class SendPerIdentity(RuleThrottle):
    """Sends, per bot and identity (the views using it require a chat token)."""

    rule = ratelimit.SEND_PER_IDENTITY

    def key(self, request: Request) -> str:
        principal = cast(Principal, request.user)
        return f"{principal.bot.pk}:{principal.identity}"


class SendPerIp(RuleThrottle):
    """Sends, per calling address, across identities."""

    rule = ratelimit.SEND_PER_IP
