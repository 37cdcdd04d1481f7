"""The outbox dispatcher: forwards accepted user messages to the bot, in order, once.

It runs on an event loop of its own: in `manage.py relay`, the process's (the production
layout), or in each web worker, a thread's (`KORE_DISPATCHER`, the embedded default); it
works the same under the ASGI server, the development server and the relay command, and a browser
that leaves never cancels a forward. One coroutine serves a conversation at a time (the
platform answers a user's messages in turn); waiting on the platform, or following a V2
pollId chain, costs that coroutine, not a thread, whatever the number of conversations or
of browsers waiting on them.

Any number of processes run a dispatcher, and the database shares the work out: a process
serves a conversation only while it holds the conversation's lease (taken with each claim,
outbox.outbox_claim), so one process at a time forwards a conversation's messages, in order,
and follows its pollId chains; a process that dies lets its leases lapse and the others take
its conversations over.

A message's path is kept short, since a user waits on it: its acceptance wakes the
dispatcher for its conversation (no scan of the outbox); one transaction takes the lease and
claims the message; one stores the answer, marks the message sent, settles `pending` and
lets go of the conversation when nothing else waits. The look at the whole outbox and the
chores (lapsed leases, stale `pending`, old callback keys) run on a timer and at startup.

Exactly once: a message is claimed (outbox.outbox_claim) before its call, and the claim is
a lease this process renews while the call is in flight. A message never claimed is forwarded
by whichever process claims it first, also after a restart; a claim whose lease lapsed means
its process died mid-call, and the message is failed with a visible reason, never re-sent
(the platform may have it already).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webclient import attachments, logs, services, sts
from webclient.dbthreads import DbThreads
from webclient.delivery import notifier
from webclient.kore import outbox
from webclient.kore.client import Failure, KoreClient, KoreError
from webclient.kore.payloads import Answer, forwarded_upstream, parse_answer, request_body
from webclient.kore.tokens import Credentials
from webclient.models import Bot, Message

log = logging.getLogger(__name__)

# How often the outbox is scanned even without a kick (messages of other processes, leases).
SCAN_INTERVAL = 15.0
# Poll chains: first wait, growth and cap of the interval between GETs of a pollId.
POLL_FIRST, POLL_GROWTH, POLL_MAX = 0.25, 1.5, 2.0
SESSION_CLOSURE = "SESSION_CLOSURE"

INTERRUPTED = "This message was interrupted on its way to the bot. Please send it again."
UNEXPECTED = "Something went wrong while sending this message to the bot. Please try again."
POLL_DEADLINE = "The bot took too long to finish its answer; part of it may be missing."
POLL_FAILED = "The rest of the bot's answer could not be fetched."


def lease() -> timedelta:
    return timedelta(seconds=settings.KORE_FORWARD_LEASE)


def failure_reason(exc: KoreError) -> str:
    """What the user (and the admin, on Message.failure_reason) is told."""
    if exc.failure is Failure.NOT_ALLOWED:
        return (
            "This bot's platform address is not allowed by the server's settings. "
            "An administrator has to fix the bot settings."
        )
    if exc.failure is Failure.SETTINGS:
        return "This bot's signing settings are incomplete. An administrator has to fix them."
    if exc.failure is Failure.CONNECT:
        return "The bot platform could not be reached. Please try again later."
    if exc.failure is Failure.TIMEOUT or exc.status == 504:
        return (
            "The bot did not answer in time (the platform gives up after 15 seconds). "
            "Please try again."
        )
    if exc.failure is Failure.BAD_ANSWER:
        return "The bot platform sent an answer that could not be read. Please try again."
    if exc.status in (401, 403):
        return "The bot rejected our credentials. An administrator has to fix the bot settings."
    if exc.status == 429:
        return "The bot is receiving too many messages right now. Please try again in a moment."
    if exc.status == 404:
        return "The bot platform does not know this bot. An administrator has to check it."
    if exc.status is not None and 400 <= exc.status < 500:
        return f"The bot platform refused this message (HTTP {exc.status})."
    return f"The bot platform had a problem (HTTP {exc.status}). Please try again later."


class Dispatcher:
    """The relay's background work with a lifecycle: `run` serves until `stop`, then lets
    what is in flight finish within the grace it was given; `start` runs it on a thread of
    its own (the web worker's embedded dispatcher), `shutdown` stops that thread and waits
    for it. It can be started again once it has ended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._ready = threading.Event()
        self._ended = threading.Event()
        self._ended.set()
        self._db = DbThreads("dispatcher-db", settings.DISPATCHER_DB_THREADS)
        # This process's name on the conversation leases it holds.
        self.owner = uuid.uuid4().hex
        # Set by `stop`: nothing new is claimed, and `run` ends once what is in flight has
        # finished or the grace has passed.
        self._stopping = False
        self._grace = 0.0
        self._serving: set[int] = set()
        # Conversations woken while being served: served again when that ends.
        self._missed: set[int] = set()
        # Messages this process is forwarding: their leases are renewed.
        self._inflight: set[int] = set()
        # Strong references: the loop keeps only weak ones to running tasks.
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: KoreClient | None = None

    @property
    def running(self) -> bool:
        return self._loop is not None

    def start(self) -> None:
        """Run on a thread of its own, unless already running there; returns once it takes
        wake-ups."""
        with self._lock:
            thread = self._thread
            if thread is not None and thread.is_alive():
                if not self._ended.is_set():
                    return
                # Its `run` has ended and the thread is closing its loop: let it finish, or
                # this start would be taken for the one still running.
                thread.join()
            self._ready.clear()
            self._ended.clear()
            self._thread = threading.Thread(
                target=asyncio.run, args=(self.run(),), name="kore-dispatcher", daemon=True
            )
            self._thread.start()
        self._ready.wait(timeout=5)

    def kick(self, conversation_id: int | None = None) -> None:
        """Serve this conversation now, or without one look at the whole outbox now. Safe
        from any thread; does nothing unless running (`run` looks at the whole outbox when
        it begins)."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            if conversation_id is None:
                loop.call_soon_threadsafe(wake.set)
            else:
                loop.call_soon_threadsafe(self._woken, conversation_id)

    def stop(self, grace: float) -> None:
        """Claim nothing more, let the forwards and pollId chains in flight finish for up to
        `grace` seconds, then end `run`. Safe from any thread and from a signal handler on
        the loop; does nothing unless running."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._request_stop, grace)

    def shutdown(self, grace: float | None = None) -> bool:
        """`stop` the thread that `start` made (grace: KORE_RELAY_STOP_GRACE) and wait for it
        to end; whether it did."""
        grace = settings.KORE_RELAY_STOP_GRACE if grace is None else grace
        self.stop(grace)
        with self._lock:
            thread = self._thread
        if thread is None:
            return True
        thread.join(grace + 5)
        return not thread.is_alive()

    def wait_ended(self, timeout: float) -> bool:
        """Wait until `run` has ended (or never began); whether it has."""
        return self._ended.wait(timeout)

    def _request_stop(self, grace: float) -> None:
        if not self._stopping:
            log.info("dispatcher stopping: %d conversation(s) in flight", len(self._serving))
        self._stopping = True
        self._grace = grace
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Serve the outbox on the running loop until `stop`: the whole of it at once and on
        a timer, each conversation when woken (`kick`); then drain."""
        self._ended.clear()
        self._stopping = False
        self._wake = asyncio.Event()
        client = KoreClient()
        self._client = client
        self._loop = asyncio.get_running_loop()
        self._ready.set()
        renewing = asyncio.create_task(self._renew_leases())
        # The whole outbox is looked at on a kick without a conversation (startup), and at
        # least every `interval`, with the chores (lapsed leases, stale `pending`, old
        # callback keys): messages of other processes, and leases, are noticed within half
        # a lease, whatever SCAN_INTERVAL is. A message's own wake-up needs neither.
        interval = min(SCAN_INTERVAL, settings.KORE_FORWARD_LEASE / 2)
        try:
            while not self._stopping:
                self._wake.clear()
                await self._scan()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), interval)
            await self._drain()
        finally:
            self._loop = None
            renewing.cancel()
            await client.aclose()
            self._client = None
            # Its threads' database connections go back (a pool's are few).
            await asyncio.to_thread(self._db.close)
            self._ready.clear()
            self._ended.set()

    async def _drain(self) -> None:
        """What is in flight finishes within the grace; what is not is cancelled, and the
        lease rules deal with it as with a process that died (docs/relay.md)."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=self._grace)
            if late:
                log.warning(
                    "dispatcher stopped with %d conversation(s) still in flight after %.0f s",
                    len(late),
                    self._grace,
                )
                for task in late:
                    task.cancel()
                await asyncio.wait(late)
        log.info("dispatcher stopped")

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(settings.KORE_FORWARD_LEASE / 3)
            try:
                await self._db.run(_renew, list(self._inflight), list(self._serving), self.owner)
            except Exception:
                log.exception("renewing forward leases failed")

    async def _scan(self) -> None:
        try:
            await self._db.run(_expire)
            waiting = await self._db.run(_waiting, self.owner)
        except Exception:
            log.exception("outbox scan failed")
            return
        for conversation_id in waiting:
            self._woken(conversation_id)

    def _woken(self, conversation_id: int) -> None:
        """On the loop: serve the conversation, or again once its current serving ends."""
        if self._stopping:
            return
        if conversation_id in self._serving:
            self._missed.add(conversation_id)
            return
        assert self._client is not None  # set before the loop takes any call
        self._serving.add(conversation_id)
        task = asyncio.create_task(self._serve(self._client, conversation_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, client: KoreClient, conversation_id: int) -> None:
        try:
            await self._forward_all(client, conversation_id)
        except Exception:
            log.exception("serving conversation %s failed", conversation_id)
        finally:
            self._serving.discard(conversation_id)
            # A wake-up that came while this coroutine was finishing found it still serving.
            if conversation_id in self._missed:
                self._missed.discard(conversation_id)
                self._woken(conversation_id)

    async def _forward_all(self, client: KoreClient, conversation_id: int) -> None:
        """Forward the conversation's messages in turn while this process holds its lease;
        let go of it when none waits, or when stopping (another process takes it over)."""
        while True:
            if self._stopping:
                await self._db.run(_release_conversation, conversation_id, self.owner)
                return
            claim = await self._db.run(_claim, conversation_id, self.owner)
            if not claim.served:
                return  # another process serves it
            message = claim.message
            if message is None:
                # Nothing to forward: let go, unless a message was accepted meanwhile.
                if await self._db.run(_release_conversation, conversation_id, self.owner):
                    continue
                return
            self._inflight.add(message.pk)
            logs.adopt_request_id(message)
            log.info("forwarding message %s", message.pk, extra={"message_ids": [message.pk]})
            try:
                exchange = Exchange(client, self._db, message, self._inflight, self.owner)
                if await exchange.run():
                    return  # the answer's transaction let go of the conversation
            except Exception:
                log.exception("forwarding message %s failed", message.pk)
                await self._db.run(_fail, message, UNEXPECTED)
            finally:
                self._inflight.discard(message.pk)


def _claim(conversation_id: int, owner: str) -> outbox.Claim:
    return outbox.outbox_claim(conversation_id=conversation_id, owner=owner, lease=lease())


def _renew(message_ids: list[int], conversation_ids: list[int], owner: str) -> None:
    outbox.outbox_renew(message_ids=message_ids, lease=lease())
    outbox.conversations_dispatch_renew(
        conversation_ids=conversation_ids, owner=owner, lease=lease()
    )


def _waiting(owner: str) -> list[int]:
    return outbox.outbox_conversations(owner=owner)


def _release_conversation(conversation_id: int, owner: str) -> bool:
    return outbox.conversation_dispatch_release(conversation_id=conversation_id, owner=owner)


def _fail(message: Message, reason: str) -> bool:
    return outbox.outbox_fail(message=message, reason=reason)


def _expire() -> None:
    failed = outbox.outbox_fail_interrupted(reason=INTERRUPTED)
    if failed:
        log.warning("%d message(s) interrupted mid-forward were failed", failed)
    outbox.conversations_settle_stale(idle=timedelta(seconds=settings.KORE_POLL_DEADLINE))
    outbox.callback_deliveries_forget(window=timedelta(seconds=settings.KORE_CALLBACK_DEDUP_WINDOW))
    attachments.attachments_unsent_sweep()


class Exchange:
    """One user message to the platform and everything the bot answers to it (sync modes)."""

    def __init__(
        self, client: KoreClient, db: DbThreads, message: Message, inflight: set[int], owner: str
    ) -> None:
        self.client = client
        self.owner = owner
        self.db = db
        self.message = message
        self.conversation = message.conversation
        self.bot: Bot = self.conversation.bot
        self.inflight = inflight
        # Each call (retries and polls too) gets a fresh token from these.
        self.credentials = Credentials(
            self.bot,
            self.conversation.identity,
            anonymous=self.bot.anonymous_users_anonymous
            and self.conversation.identity.startswith(sts.ANONYMOUS_PREFIX),
        )

    @property
    def is_closure(self) -> bool:
        data = self.message.data
        return isinstance(data, dict) and data.get("event") == SESSION_CLOSURE

    async def run(self) -> bool:
        """Forward the message and store what the bot answers; True when the answer's
        transaction let go of the conversation (nothing else waits)."""
        if not forwarded_upstream(self.bot, self.message):
            # An event a V1 bot does not take: nothing goes upstream.
            await self.db.run(self._keep_local)
            return False
        body = await self.db.run(request_body, self.bot, self.conversation, self.message)
        is_async = self.bot.mode == Bot.Mode.ASYNC
        if is_async:
            # Callbacks naming no user may come here from now on: the first one can come
            # before the acknowledgement does.
            await self.db.run(self._callbacks_awaited)
        try:
            raw = await self.client.send(self.bot, body, self.credentials, acknowledgement=is_async)
        except KoreError as exc:
            self._log_failure(exc)
            await self.db.run(_fail, self.message, failure_reason(exc))
            if is_async:
                await self.db.run(self._callbacks_done)
            return False
        self.inflight.discard(self.message.pk)
        answer = parse_answer(raw)
        if is_async:
            # The bot's messages arrive on our callback, which settles `pending`.
            await self.db.run(self._store_ack, answer)
            return False
        return await self._deliver(answer)

    def _log_failure(self, exc: KoreError) -> None:
        if exc.status in (401, 403) or exc.failure is Failure.NOT_ALLOWED:
            log.error(
                "bot %s: the platform refused the relay (%s %s); check its settings",
                self.bot.slug,
                exc.status or exc.failure.value,
                exc,
            )
        else:
            log.warning(
                "bot %s: forward of message %s failed: %s (%s)",
                self.bot.slug,
                self.message.pk,
                exc,
                exc.status or exc.failure.value,
            )

    async def _deliver(self, answer: Answer) -> bool:
        """Store the answer, then follow its pollId chain until done or past the deadline;
        True when the last store let go of the conversation."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.KORE_POLL_DEADLINE
        released = await self.db.run(self._store_first, answer)
        poll_id, interval = answer.poll_id, POLL_FIRST
        while poll_id:
            remaining = deadline - loop.time()
            if remaining <= 0:
                await self.db.run(self._notice, POLL_DEADLINE, "deadline")
                return False
            await asyncio.sleep(min(interval, remaining))
            try:
                polled = parse_answer(await self.client.poll(self.bot, poll_id, self.credentials))
            except KoreError as exc:
                if exc.no_data:
                    # Each pollId delivers once; "No data found" means nothing more is due.
                    log.info("poll %s: no data found, chain ended", poll_id)
                    await self.db.run(self._settle)
                else:
                    log.warning("poll %s failed: %s (%s)", poll_id, exc, exc.status)
                    await self.db.run(self._notice, POLL_FAILED, "poll_failed")
                return False
            if polled.in_progress:
                poll_id = polled.poll_id or poll_id
                interval = min(interval * POLL_GROWTH, POLL_MAX)
                continue
            released = await self.db.run(self._store, polled)
            poll_id, interval = polled.poll_id, POLL_FIRST
        return released

    # Each step stores its messages and the conversation's new state in one transaction,
    # so a long-poll woken by the messages already reads the new `pending`. The first also
    # marks the message sent: its answer, `sent` and the started session commit together (a
    # process dying before that commit lets the claim lapse: failed, never sent twice).

    def _store_first(self, answer: Answer) -> bool:
        with transaction.atomic():
            sent = outbox.user_message_sent(message=self.message)
            if not sent:
                # The lease lapsed mid-call and the user was told it failed; the bot has it
                # after all, so its answer is still delivered.
                log.warning("message %s was answered after its lease lapsed", self.message.pk)
            return self._store(answer, session_started=True if sent else None)

    def _store(self, answer: Answer, session_started: bool | None = None) -> bool:
        """True when nothing else waits and the conversation was let go of."""
        with transaction.atomic(savepoint=False):
            services.bot_messages_store(conversation=self.conversation, items=answer.items)
            if answer.task_state:
                services.conversation_update(
                    conversation=self.conversation, task_state=answer.task_state
                )
            if answer.poll_id:
                services.conversation_update(
                    conversation=self.conversation, pending=True, session_started=session_started
                )
                return False
            released = outbox.conversation_answered(
                conversation=self.conversation,
                owner=self.owner,
                lease=lease(),
                session_started=session_started,
            )
            self._closed(answer)
            return released

    def _store_ack(self, answer: Answer) -> None:
        with transaction.atomic():
            if outbox.user_message_sent(message=self.message):
                services.conversation_update(conversation=self.conversation, session_started=True)
            else:
                log.warning("message %s was answered after its lease lapsed", self.message.pk)
            services.bot_messages_store(conversation=self.conversation, items=answer.items)
            self._closed(answer)

    def _callbacks_awaited(self) -> None:
        until = timezone.now() + timedelta(seconds=settings.KORE_CALLBACK_ROUTE_WINDOW)
        services.conversation_callback_awaited(conversation=self.conversation, until=until)

    def _callbacks_done(self) -> None:
        services.conversation_callback_done(conversation=self.conversation)

    def _keep_local(self) -> None:
        with transaction.atomic():
            if outbox.user_message_sent(message=self.message) and self.is_closure:
                outbox.conversation_session_closed(
                    conversation=self.conversation, message=self.message, ignored=False
                )
            outbox.conversation_settle(conversation=self.conversation)

    def _closed(self, answer: Answer) -> None:
        """A SESSION_CLOSURE the platform took: tell the user the session ended."""
        if self.is_closure:
            outbox.conversation_session_closed(
                conversation=self.conversation,
                message=self.message,
                ignored="SESSION_CLOSURE_IGNORED" in answer.events,
            )

    def _notice(self, text: str, status: str) -> None:
        with transaction.atomic():
            services.system_message_add(
                conversation=self.conversation,
                refers_to=self.message,
                kind=Message.Kind.ERROR,
                text=text,
                data={"status": status, "reason": text},
            )
            outbox.conversation_settle(conversation=self.conversation)

    def _settle(self) -> None:
        outbox.conversation_settle(conversation=self.conversation)


# This process's own dispatcher, when web workers run the relay (KORE_DISPATCHER, the
# default): started with the server (kore_chat/asgi.py) or by the first wake-up, stopped with
# the server. `manage.py relay` runs a Dispatcher of its own instead.
dispatcher = Dispatcher()


def wake(conversation_id: int) -> None:
    """What `services.on_message_accepted` runs on commit (registered in apps.py): serve
    the conversation that accepted a message, here when this process runs the dispatcher,
    else in whichever relay process hears of it (`manage.py relay`).

    The setting is read again here: it can be switched off while the process runs (tests).
    """
    if settings.KORE_DISPATCHER:
        dispatcher.start()
        dispatcher.kick(conversation_id)
    else:
        notifier.outbox(conversation_id)
