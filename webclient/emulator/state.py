"""The emulated platform's memory: pending polls, sessions, transcripts, a request log.

Per process and in memory, like a test double should be: the emulator is meant to run in a
single server process (runserver, or granian with one worker). Every method takes the lock,
because views run on event-loop and worker threads and callbacks on their own threads.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from webclient.emulator.demo_bot import Part
from webclient.emulator.wire import DOCUMENTED, BotMessage, Style, TaskEnd

# A transcript's key: bot id, the Web SDK's channel type (`ivr` or the instance id), user id.
Conversation = tuple[str, str, str]

# How long an undelivered pollId is kept (the platform does not document it).
POLL_LIFETIME = 600.0
# Bounded so that a long-running demo server does not grow without end.
MAX_LOG_ENTRIES = 1000


@dataclass
class PendingPoll:
    bot_id: str
    channel_type: str
    user_id: str
    started: float
    parts: list[Part]
    task: TaskEnd | None
    style: Style = DOCUMENTED

    @property
    def conversation(self) -> Conversation:
        return (self.bot_id, self.channel_type, self.user_id)

    @property
    def ready_at(self) -> float:
        return self.started + self.parts[0].after


@dataclass(frozen=True)
class PollResult:
    """What a poll finds: nothing (unknown or used), still running, or messages."""

    found: bool
    conversation: Conversation = ("", "", "")
    in_progress: bool = False
    messages: list[BotMessage] = field(default_factory=list)
    task: TaskEnd | None = None
    next_poll_id: str | None = None
    style: Style = DOCUMENTED


@dataclass(frozen=True)
class HistoryEntry:
    message_id: str
    incoming: bool
    text: str
    created_on: str


class EmulatorState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._polls: dict[str, PendingPoll] = {}
        self._sessions: set[tuple[str, str]] = set()
        self._history: dict[Conversation, list[HistoryEntry]] = defaultdict(list)
        self._received: list[dict[str, Any]] = []
        self._callbacks: list[dict[str, Any]] = []
        self._sequence = itertools.count(1)

    def reset(self) -> None:
        with self._lock:
            self._polls.clear()
            self._sessions.clear()
            self._history.clear()
            self._received.clear()
            self._callbacks.clear()

    # Polls

    def add_poll(
        self,
        poll_id: str,
        conversation: Conversation,
        started: float,
        parts: list[Part],
        task: TaskEnd | None,
        style: Style = DOCUMENTED,
    ) -> None:
        with self._lock:
            self._expire_polls()
            self._polls[poll_id] = PendingPoll(*conversation, started, parts, task, style)

    def take_poll(self, poll_id: str, bot_id: str, new_poll_id: str) -> PollResult:
        """Deliver what is ready, once; the rest moves on under `new_poll_id`."""
        now = time.monotonic()
        with self._lock:
            self._expire_polls()
            poll = self._polls.get(poll_id)
            if poll is None or poll.bot_id != bot_id:
                return PollResult(found=False)
            if now < poll.ready_at:
                return PollResult(True, poll.conversation, in_progress=True)
            del self._polls[poll_id]
            ready = [part for part in poll.parts if poll.started + part.after <= now]
            rest = poll.parts[len(ready) :]
            messages = [message for part in ready for message in part.messages]
            if rest:
                self._polls[new_poll_id] = PendingPoll(
                    *poll.conversation, poll.started, rest, poll.task, poll.style
                )
                return PollResult(
                    True,
                    poll.conversation,
                    messages=messages,
                    next_poll_id=new_poll_id,
                    style=poll.style,
                )
            return PollResult(
                True, poll.conversation, messages=messages, task=poll.task, style=poll.style
            )

    def _expire_polls(self) -> None:
        cutoff = time.monotonic() - POLL_LIFETIME
        for key in [k for k, p in self._polls.items() if p.started + p.parts[-1].after < cutoff]:
            del self._polls[key]

    # Sessions

    def open_session(self, bot_id: str, user_id: str) -> None:
        with self._lock:
            self._sessions.add((bot_id, user_id))

    def close_session(self, bot_id: str, user_id: str) -> bool:
        """Close the user's session; False when there was none open."""
        with self._lock:
            if (bot_id, user_id) not in self._sessions:
                return False
            self._sessions.discard((bot_id, user_id))
            return True

    # Transcripts, for the Web SDK's chathistory call

    def remember(self, conversation: Conversation, entry: HistoryEntry) -> None:
        with self._lock:
            transcript = self._history[conversation]
            transcript.append(entry)
            del transcript[:-MAX_LOG_ENTRIES]

    def history(self, conversation: Conversation) -> list[HistoryEntry]:
        with self._lock:
            return list(self._history.get(conversation, []))

    # What tests look at

    def record_request(
        self, bot_id: str, instance_id: str, user_id: str, status: int, body: Any
    ) -> None:
        with self._lock:
            self._received.append(
                {
                    "seq": next(self._sequence),
                    "bot": bot_id,
                    "instance": instance_id,
                    "user": user_id,
                    "status": status,
                    "body": body,
                }
            )
            del self._received[:-MAX_LOG_ENTRIES]

    def record_callback(
        self, bot_id: str, user_id: str, url: str, status: int | None, body: Any
    ) -> None:
        with self._lock:
            self._callbacks.append(
                {
                    "seq": next(self._sequence),
                    "bot": bot_id,
                    "user": user_id,
                    "url": url,
                    "status": status,
                    "body": body,
                }
            )
            del self._callbacks[:-MAX_LOG_ENTRIES]

    def requests(
        self, bot_id: str | None = None, user_id: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._received if _matches(r, bot_id, user_id)]

    def callbacks(
        self, bot_id: str | None = None, user_id: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._callbacks if _matches(c, bot_id, user_id)]


def _matches(entry: dict[str, Any], bot_id: str | None, user_id: str | None) -> bool:
    return (bot_id is None or entry["bot"] == bot_id) and (
        user_id is None or entry["user"] == user_id
    )


state = EmulatorState()
