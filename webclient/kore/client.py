"""The only module that talks HTTP to the Kore WebHook API (or the embedded emulator).

Every call checks the bot's upstream against the allow-list, has explicit timeouts, follows
no redirects, retries what is safe to retry, and fails with `KoreError`.

Retry rule: only when the platform certainly did not act on the call, or says to come back.
429 and 500/502/503 and connection failures (refused, connect timeout) are retried; a read
timeout or a 504 on a POST is not, because the bot may already have the message and
sending it again would duplicate it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Mapping
from typing import Any

import httpx
from django.conf import settings

from webclient import metrics
from webclient.kore.tokens import Credentials, TokenSettingsError
from webclient.models import Bot
from webclient.security.upstream import UpstreamNotAllowed, check_upstream

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503})


class Failure(enum.Enum):
    HTTP = "http"  # the platform answered with an error status
    TIMEOUT = "timeout"  # no answer in time; the platform may have acted
    CONNECT = "connect"  # refused or unreachable; nothing was sent
    NOT_ALLOWED = "not_allowed"  # the upstream URL is refused by our settings
    SETTINGS = "settings"  # the bot's token settings cannot make a token (a key is missing)
    BAD_ANSWER = "bad_answer"  # 2xx but not a JSON object


class KoreError(Exception):
    """An upstream call that did not give a usable answer."""

    def __init__(
        self,
        message: str,
        *,
        failure: Failure,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.failure = failure
        self.status = status
        self.retry_after = retry_after

    @property
    def no_data(self) -> bool:
        """A poll answered 400 "No data found": the pollId was used up or expired."""
        return self.status == 400 and "no data" in str(self).lower()

    def retryable(self, *, idempotent: bool) -> bool:
        if self.failure is Failure.CONNECT:
            return True
        if self.failure is Failure.TIMEOUT:
            return idempotent
        return self.failure is Failure.HTTP and self.status in RETRYABLE_STATUSES


def hook_url(bot: Bot) -> str:
    base = bot.upstream_base
    if bot.api_version == Bot.ApiVersion.V1:
        url = f"{base}/chatbot/hooks/{bot.bot_id}"
    else:
        url = f"{base}/chatbot/v2/webhook/{bot.bot_id}"
    if bot.hook_instance_id:
        url += f"/hookInstance/{bot.hook_instance_id}"
    return url


def poll_url(bot: Bot, poll_id: str) -> str:
    return f"{bot.upstream_base}/chatbot/v2/webhook/{bot.bot_id}/poll/{poll_id}"


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        # An HTTP-date Retry-After is not used by Kore; the back-off applies instead.
        return None


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["errors"][0]["msg"])
    except (ValueError, KeyError, IndexError, TypeError):
        return response.reason_phrase or f"HTTP {response.status_code}"


def retry_delay(attempt: int, retry_after: float | None) -> float | None:
    """Seconds to wait before retry number `attempt` (1-based), or None to give up.

    Exponential from KORE_RETRY_BASE_MS with jitter (50-100 %), so that many conversations
    failing together do not retry in lock-step; never shorter than Retry-After, and a
    Retry-After beyond KORE_RETRY_MAX_DELAY is not waited for at all.
    """
    cap = float(settings.KORE_RETRY_MAX_DELAY)
    if retry_after is not None and retry_after > cap:
        return None
    backoff = min(cap, settings.KORE_RETRY_BASE_MS / 1000 * 2 ** (attempt - 1))
    return max(backoff * random.uniform(0.5, 1.0), retry_after or 0.0)


class KoreClient:
    def __init__(self) -> None:
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(
                settings.KORE_READ_TIMEOUT,
                connect=settings.KORE_CONNECT_TIMEOUT,
            ),
            follow_redirects=False,
            headers={"User-Agent": "kore-chat relay"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(
        self,
        bot: Bot,
        body: Mapping[str, Any],
        credentials: Credentials,
        *,
        acknowledgement: bool = False,
    ) -> dict[str, Any]:
        """POST a user message. With `acknowledgement` (asynchronous bots) any 2xx is the
        platform's acceptance, whatever its body: Kore documents an empty one for V1."""
        return await self._with_retries(
            bot, "POST", hook_url(bot), credentials, body, acknowledgement=acknowledgement
        )

    async def poll(self, bot: Bot, poll_id: str, credentials: Credentials) -> dict[str, Any]:
        return await self._with_retries(bot, "GET", poll_url(bot, poll_id), credentials, None)

    async def probe(
        self,
        bot: Bot,
        method: str,
        url: str,
        credentials: Credentials,
        body: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """One call, no retries: the admin's and check_upstream's connection check."""
        return await self._call(bot, method, url, credentials, body)

    async def _with_retries(
        self,
        bot: Bot,
        method: str,
        url: str,
        credentials: Credentials,
        body: Mapping[str, Any] | None,
        *,
        acknowledgement: bool = False,
    ) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                return await self._call(
                    bot, method, url, credentials, body, acknowledgement=acknowledgement
                )
            except KoreError as exc:
                attempt += 1
                if attempt > settings.KORE_MAX_RETRIES or not exc.retryable(
                    idempotent=method == "GET"
                ):
                    raise
                delay = retry_delay(attempt, exc.retry_after)
                if delay is None:
                    raise
                log.info(
                    "bot %s: %s %s failed (%s); retry %d in %.2fs",
                    bot.slug,
                    method,
                    url,
                    exc,
                    attempt,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _call(
        self,
        bot: Bot,
        method: str,
        url: str,
        credentials: Credentials,
        body: Mapping[str, Any] | None,
        *,
        acknowledgement: bool = False,
    ) -> dict[str, Any]:
        try:
            with metrics.upstream_call(bot.slug, method):
                return await self._call_once(
                    bot, method, url, credentials, body, acknowledgement=acknowledgement
                )
        except KoreError as exc:
            metrics.upstream_failed(bot.slug, exc.status or exc.failure.value)
            raise

    async def _call_once(
        self,
        bot: Bot,
        method: str,
        url: str,
        credentials: Credentials,
        body: Mapping[str, Any] | None,
        *,
        acknowledgement: bool,
    ) -> dict[str, Any]:
        try:
            check_upstream(bot.upstream_url)
        except UpstreamNotAllowed as exc:
            raise KoreError(str(exc), failure=Failure.NOT_ALLOWED) from None
        try:
            # A new token for every attempt: Kore refuses a replayed jti.
            token = credentials.fresh()
        except TokenSettingsError as exc:
            raise KoreError(str(exc), failure=Failure.SETTINGS) from None
        try:
            response = await self._http.request(
                method, url, json=body, headers={"Authorization": f"bearer {token}"}
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Nothing reached the platform (refused, unreachable, no connection in time).
            raise KoreError(
                f"The bot platform could not be reached ({type(exc).__name__}).",
                failure=Failure.CONNECT,
            ) from None
        except httpx.HTTPError as exc:
            # A read timeout, or a connection dropped mid-call: the platform may have acted.
            raise KoreError(
                f"The bot platform did not answer in time ({type(exc).__name__}).",
                failure=Failure.TIMEOUT,
            ) from None
        if response.status_code >= 300:
            raise KoreError(
                _error_message(response),
                failure=Failure.HTTP,
                status=response.status_code,
                retry_after=_retry_after(response),
            )
        try:
            answer = response.json()
        except ValueError:
            if acknowledgement:
                return {}
            raise KoreError(
                "The bot platform answered with something that is not JSON.",
                failure=Failure.BAD_ANSWER,
            ) from None
        if not isinstance(answer, dict):
            if acknowledgement:
                return {}
            raise KoreError(
                "The bot platform answered with an unexpected shape.", failure=Failure.BAD_ANSWER
            )
        return answer
