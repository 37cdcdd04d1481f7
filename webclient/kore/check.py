"""Checking a bot's connection to the platform without talking to the bot.

Shared by the admin's "Check connection" action and `manage.py check_upstream`. It makes a
real token for the bot, exactly as every upstream call does (webclient/kore/tokens.py: the
signing algorithm, the RSA key, JWE, a fresh jti), and one real call (through
kore/client.py, no retries) that the platform must authenticate but that can reach no
dialog, open no session and leave nothing in any user's history:

- V2: `GET …/chatbot/v2/webhook/<botId>/poll/<random pollId>`. A GET with no body, for a
  pollId that was never issued: the expected answer is 400 "No data found". 401 means the
  client id or secret is wrong, 404 that there is no such bot (or webhook channel).
- V1 has no poll route: `POST …/chatbot/hooks/<botId>` with an empty JSON object. It has no
  `message` and no `from`, so the platform refuses it as 400 "Invalid Request Payload" before
  any bot sees it. The same 401 and 404 apply.

Limit: whether Kore checks the token before it looks at the pollId or the payload is
undocumented. The embedded emulator checks the token first, as its documentation implies;
if a real platform did not, a wrong secret would pass this check and the first real message
would fail with "The bot rejected our credentials" (shown in the transcript and counted in
kore_chat_upstream_errors_total{status="401"}).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync

from webclient import services
from webclient.kore.client import Failure, KoreClient, KoreError, hook_url, poll_url
from webclient.kore.tokens import CHECK_IDENTITY, Credentials
from webclient.models import Bot


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    summary: str
    method: str
    url: str
    status: int | None
    elapsed_ms: int


def _verdict(bot: Bot, exc: KoreError) -> tuple[bool, str]:
    expected = "No data found" if bot.api_version == Bot.ApiVersion.V2 else "Invalid Request"
    if exc.status == 400:
        if expected.lower() in str(exc).lower():
            return True, f"Connected: the platform accepted the bot's token ({exc.status} {exc})."
        return False, f"The platform answered 400 {exc!s}; expected {expected!r}."
    if exc.status == 401:
        return False, (
            f"The platform refused the token ({exc}): check the client id, the client secret "
            "or private key, the signing algorithm and the JWE settings."
        )
    if exc.status == 404:
        return False, "The platform does not know this bot id (or has no such webhook channel)."
    if exc.failure in (Failure.NOT_ALLOWED, Failure.SETTINGS):
        return False, f"Not checked: {exc}"
    if exc.failure is Failure.CONNECT:
        return False, f"The platform could not be reached: {exc}"
    if exc.failure is Failure.TIMEOUT:
        return False, f"The platform did not answer in time: {exc}"
    return False, f"Unexpected answer ({exc.status or exc.failure.value}): {exc}"


async def _probe(bot: Bot, credentials: Credentials) -> CheckResult:
    body: dict[str, Any] | None = None
    if bot.api_version == Bot.ApiVersion.V2:
        method, url = "GET", poll_url(bot, uuid.uuid4().hex)
    else:
        method, url, body = "POST", hook_url(bot), {}
    client = KoreClient()
    started = time.perf_counter()
    try:
        await client.probe(bot, method, url, credentials, body)
    except KoreError as exc:
        ok, summary = _verdict(bot, exc)
        status = exc.status
    else:
        ok, summary, status = True, "Connected: the platform answered 2xx.", None
    finally:
        await client.aclose()
    elapsed = round((time.perf_counter() - started) * 1000)
    return CheckResult(ok, summary, method, url, status, elapsed)


def connection_check(bot: Bot) -> CheckResult:
    """One harmless, authenticated call to the bot's platform, and what it tells (kept on
    the bot: its admin page shows the last result)."""
    result = async_to_sync(_probe)(bot, Credentials(bot, CHECK_IDENTITY))
    services.bot_check_record(bot=bot, ok=result.ok, summary=result.summary)
    return result
