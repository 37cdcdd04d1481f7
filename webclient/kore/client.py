"""The only module that talks HTTP to the Kore WebHook API (or the embedded emulator).

Every call has explicit timeouts, follows no redirects, and fails with `KoreError`.
"""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings

from webclient.models import Bot


class KoreError(Exception):
    """An upstream call that did not give a usable answer.

    `status` is the HTTP status, or None when no answer came (refused, timed out).
    """

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


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
        return None


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["errors"][0]["msg"])
    except (ValueError, KeyError, IndexError, TypeError):
        return response.reason_phrase or f"HTTP {response.status_code}"


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

    async def send(self, bot: Bot, body: dict[str, Any], token: str) -> dict[str, Any]:
        return await self._call("POST", hook_url(bot), token, body)

    async def poll(self, bot: Bot, poll_id: str, token: str) -> dict[str, Any]:
        return await self._call("GET", poll_url(bot, poll_id), token, None)

    async def _call(
        self, method: str, url: str, token: str, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(
                method, url, json=body, headers={"Authorization": f"bearer {token}"}
            )
        except httpx.TimeoutException:
            raise KoreError("The bot platform did not answer in time.") from None
        except httpx.HTTPError as exc:
            raise KoreError(f"The bot platform is unreachable ({type(exc).__name__}).") from None
        if response.status_code >= 300:
            raise KoreError(
                _error_message(response),
                status=response.status_code,
                retry_after=_retry_after(response),
            )
        try:
            answer = response.json()
        except ValueError:
            raise KoreError("The bot platform answered with something that is not JSON.") from None
        if not isinstance(answer, dict):
            raise KoreError("The bot platform answered with an unexpected shape.")
        return answer
