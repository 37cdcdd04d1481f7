"""The outbox dispatcher: forwards accepted user messages to the bot, in order, once.

It runs on its own thread and event loop in each server process, so it works the same under
uvicorn and the development server, and a browser that leaves never cancels a forward. One
coroutine serves a conversation at a time (the platform answers a user's messages in turn);
waiting on the platform costs a coroutine, not a thread, whatever the number of conversations.

A message is claimed (`forward_started_at`) in the same transaction that checks that nothing
else of its conversation is in flight, so each is forwarded at most once, by one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webclient import services, sts
from webclient.dbthreads import DbThreads
from webclient.kore.client import KoreClient, KoreError
from webclient.kore.payloads import Answer, parse_answer, request_body
from webclient.models import Bot, Conversation, Message

log = logging.getLogger(__name__)

# How often the outbox is scanned even without a kick (messages of other processes, leases).
SCAN_INTERVAL = 15.0
# Poll chains: first wait, growth and cap of the interval between GETs of a pollId.
POLL_FIRST, POLL_GROWTH, POLL_MAX = 0.25, 1.5, 2.0


def _lease() -> timedelta:
    """How long a claimed message may stay in flight before it counts as interrupted."""
    return timedelta(seconds=settings.KORE_POLL_DEADLINE + 4 * settings.KORE_READ_TIMEOUT + 60)


@dataclass(frozen=True)
class Claim:
    message: Message
    conversation: Conversation
    bot: Bot


def outbox_conversations() -> list[int]:
    """Conversations with a user message waiting to be forwarded."""
    return list(
        Message.objects.filter(status=Message.Status.ACCEPTED, forward_started_at__isnull=True)
        .values_list("conversation_id", flat=True)
        .distinct()
    )


def outbox_claim(conversation_id: int) -> Claim | None:
    """Claim the conversation's oldest accepted message, unless one is already in flight."""
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update().select_related("bot").get(pk=conversation_id)
        )
        head = conversation.messages.filter(status=Message.Status.ACCEPTED).order_by("id").first()
        if head is None or head.forward_started_at is not None:
            return None
        head.forward_started_at = timezone.now()
        head.save(update_fields=["forward_started_at"])
        return Claim(message=head, conversation=conversation, bot=conversation.bot)


def outbox_expire_interrupted() -> None:
    """Fail messages whose forward was interrupted (a process died mid-call).

    Whether the platform got them is unknown, so they are not sent again: the user is told.
    """
    stale = Message.objects.filter(
        status=Message.Status.ACCEPTED, forward_started_at__lt=timezone.now() - _lease()
    ).select_related("conversation")
    for message in stale:
        services.user_message_mark_failed(
            message=message,
            reason="This message was interrupted on its way to the bot. Please send it again.",
        )
        services.conversation_update(conversation=message.conversation, pending=False)


def failure_reason(exc: KoreError) -> str:
    if exc.status in (401, 403):
        return "The bot rejected our credentials. An administrator has to fix the bot settings."
    if exc.status == 429:
        return "The bot is receiving too many messages. Please try again in a moment."
    if exc.status == 504 or exc.status is None:
        return "The bot did not answer in time. Please try again."
    return "The bot could not be reached. Please try again later."


class Dispatcher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._ready = threading.Event()
        self._db = DbThreads("dispatcher-db", 2)
        self._serving: set[int] = set()
        # Strong references: the loop keeps only weak ones to running tasks.
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._ready.clear()
            self._thread = threading.Thread(target=self._run, name="kore-dispatcher", daemon=True)
            self._thread.start()
        self._ready.wait(timeout=5)

    def kick(self) -> None:
        """Look at the outbox now. Safe from any thread; starts the dispatcher if needed."""
        self.start()
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._ready.set()
        client = KoreClient()
        try:
            while True:
                self._wake.clear()
                await self._scan(client)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), SCAN_INTERVAL)
        finally:
            await client.aclose()

    async def _scan(self, client: KoreClient) -> None:
        try:
            await self._db.run(outbox_expire_interrupted)
            waiting = await self._db.run(outbox_conversations)
        except Exception:
            log.exception("outbox scan failed")
            return
        for conversation_id in waiting:
            if conversation_id not in self._serving:
                self._serving.add(conversation_id)
                task = asyncio.create_task(self._serve(client, conversation_id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _serve(self, client: KoreClient, conversation_id: int) -> None:
        try:
            while (claim := await self._db.run(outbox_claim, conversation_id)) is not None:
                await Exchange(client, self._db, claim).run()
        except Exception:
            log.exception("forwarding for conversation %s failed", conversation_id)
        finally:
            self._serving.discard(conversation_id)
            # A message accepted while this coroutine was finishing is picked up now.
            if self._wake is not None:
                self._wake.set()


class Exchange:
    """One user message to the platform and everything the bot answers to it."""

    def __init__(self, client: KoreClient, db: DbThreads, claim: Claim) -> None:
        self.client = client
        self.db = db
        self.message = claim.message
        self.conversation = claim.conversation
        self.bot = claim.bot
        self.token = sts.token_issue(
            bot=self.bot, identity=self.conversation.identity, anonymous=False
        ).jwt

    async def run(self) -> None:
        body = request_body(self.bot, self.conversation, self.message)
        try:
            answer = await self.client.send(self.bot, body, self.token)
        except KoreError as exc:
            log.warning("forward of message %s failed: %s (%s)", self.message.pk, exc, exc.status)
            await self.db.run(self._fail, failure_reason(exc))
            return
        await self.db.run(self._sent)
        if self.bot.mode == Bot.Mode.ASYNC:
            # The bot's messages arrive later on our callback, which clears `pending`.
            return
        await self._deliver(parse_answer(answer))

    async def _deliver(self, answer: Answer) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.KORE_POLL_DEADLINE
        interval = POLL_FIRST
        await self.db.run(self._store, answer)
        while answer.poll_id and loop.time() < deadline:
            await asyncio.sleep(interval)
            interval = min(interval * POLL_GROWTH, POLL_MAX)
            try:
                polled = await self.client.poll(self.bot, answer.poll_id, self.token)
            except KoreError as exc:
                log.warning("poll %s failed: %s (%s)", answer.poll_id, exc, exc.status)
                break
            answer = parse_answer(polled)
            if not answer.in_progress:
                interval = POLL_FIRST
                await self.db.run(self._store, answer)
            elif answer.poll_id is None:
                break
        await self.db.run(self._done)

    # Each step stores its messages and the conversation's new state in one transaction,
    # so a long-poll woken by the messages already reads the new `pending`.

    def _fail(self, reason: str) -> None:
        with transaction.atomic():
            services.user_message_mark_failed(message=self.message, reason=reason)
            services.conversation_update(conversation=self.conversation, pending=False)

    def _sent(self) -> None:
        services.user_message_mark_sent(message=self.message)
        services.conversation_update(conversation=self.conversation, session_started=True)

    def _store(self, answer: Answer) -> None:
        with transaction.atomic():
            services.bot_messages_store(conversation=self.conversation, items=answer.items)
            services.conversation_update(
                conversation=self.conversation,
                pending=answer.poll_id is not None,
                task_state=answer.task_state or None,
            )

    def _done(self) -> None:
        services.conversation_update(conversation=self.conversation, pending=False)


dispatcher = Dispatcher()
