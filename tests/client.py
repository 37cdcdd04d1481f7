"""A small API client for end-to-end tests: one chat user over real HTTP."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx


class ChatUser:
    def __init__(self, base_url: str, bot: str = "demo", identity: str | None = None) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        body: dict[str, Any] = {"bot": bot}
        if identity:
            body["identity"] = identity
        answer = self.http.post("/api/v1/sts", json=body)
        answer.raise_for_status()
        self.token = answer.json()["jwt"]
        self.identity = answer.json()["identity"]
        self.http.headers["Authorization"] = f"Bearer {self.token}"
        self.cursor = 0

    def send(self, client_message_id: str | None = None, **body: Any) -> httpx.Response:
        body["clientMessageId"] = client_message_id or str(uuid.uuid4())
        return self.http.post("/api/v1/messages", json=body)

    def poll(self, after: int | None = None, wait: int = 10) -> dict[str, Any]:
        answer = self.http.get(
            "/api/v1/messages",
            params={"after": self.cursor if after is None else after, "wait": wait},
        )
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()
        self.cursor = data["cursor"]
        return data

    def history(self) -> list[dict[str, Any]]:
        return list(self.poll(after=0, wait=0)["messages"])

    def wait_for(self, predicate: Any, timeout: float = 20) -> list[dict[str, Any]]:
        """Poll until some message satisfies `predicate`; return everything received."""

        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received += self.poll(wait=max(1, int(deadline - time.monotonic())))["messages"]
            if any(predicate(m) for m in received):
                return received
        raise AssertionError(f"nothing matched within {timeout}s; received {received}")
