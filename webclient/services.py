"""Every write. The function that stores a message is the one that publishes it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, NotRequired, Protocol, TypedDict

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.html import escape

from webclient import attachments, forms, logs, metrics, plainsql, selectors
from webclient.delivery import notifier
from webclient.errors import ApplicationError, Kind
from webclient.models import Bot, Conversation, Message
from webclient.render import Rendered, render_bot_item, render_user_input


class Postback(TypedDict):
    payload: str
    title: NotRequired[str]


class UserBody(TypedDict, total=False):
    """What a user sends (exactly one of text, postback, formData, event): stored as the
    message's `data`, forwarded as is. A text may carry attachment ids
    (webclient/attachments.py); any message the embedding page's accepted context
    (webclient/page_context.py)."""

    text: str
    postback: Postback
    formData: forms.FormData
    event: str
    attachments: list[str]
    pageContext: dict[str, dict[str, Any]]
    language: str


class BotMessageItem(Protocol):
    """One bot message to store: what the bot sent, and the platform's id for it if any.

    The relay's `kore.payloads.BotItem` has this shape; services does not know the wire.
    """

    @property
    def item(self) -> Any: ...

    @property
    def platform_message_id(self) -> str | None: ...


# Run after every transaction that accepted a user message, with its conversation's id (the
# relay wakes its dispatcher for that conversation, with no scan of the outbox).
_accepted_hooks: list[Callable[[int], None]] = []


def on_message_accepted(hook: Callable[[int], None]) -> None:
    """Register `hook` to run on commit of each accepted user message; once per hook."""
    if hook not in _accepted_hooks:
        _accepted_hooks.append(hook)


def message_accepted_on_commit(*, conversation: Conversation) -> None:
    """A user message entered the outbox: run the hooks when the transaction commits."""
    for hook in _accepted_hooks:
        transaction.on_commit(partial(hook, conversation.pk))


def conversation_get_or_create(*, bot: Bot, identity: str) -> Conversation:
    """The identity's conversation with `bot`, created on first use.

    Every send asks this, and a send waits on it (measured): an existing conversation is
    found in plain SQL and comes with only its keys loaded (any other field is read from
    the database when first used), since the ORM's get() cost several times that.
    """
    row = plainsql.CONVERSATION_ID.one([bot.pk, identity])
    if row is None:
        conversation, _ = Conversation.objects.get_or_create(bot=bot, identity=identity)
        return conversation
    conversation = Conversation.from_db(
        connection.alias, ["id", "bot_id", "identity"], [row[0], bot.pk, identity]
    )
    conversation.bot = bot
    return conversation


def message_create(
    *,
    conversation: Conversation,
    role: str,
    rendered: Rendered,
    data: Any = None,
    client_message_id: str | None = None,
    platform_message_id: str | None = None,
    status: str | None = None,
    conversation_locked: bool = False,
) -> Message:
    """Store a message and publish it at commit.

    `conversation_locked`: the caller's transaction already locked the conversation's row
    (an UPDATE of it), which spares the lock's query.
    """
    # Stores into one conversation take turns (a row lock on PostgreSQL; SQLite has one
    # writer anyway), so its message ids commit in order and a cursor never steps over a
    # message that another transaction has yet to commit.
    with transaction.atomic(savepoint=False):
        if not conversation_locked:
            list(Conversation.objects.select_for_update().filter(pk=conversation.pk).values("pk"))
        message = Message.objects.create(
            conversation=conversation,
            role=role,
            kind=rendered.kind,
            text=rendered.text,
            html=rendered.html,
            data=data,
            client_message_id=client_message_id,
            platform_message_id=platform_message_id,
            status=status,
            request_id=logs.current_request_id(),
        )
        notifier.stored(conversation.channel, message.pk)
    metrics.message_stored(bot_id=conversation.bot_id, role=role, kind=rendered.kind)
    return message


def system_message_add(
    *,
    conversation: Conversation,
    refers_to: Message,
    kind: str,
    text: str,
    data: dict[str, Any],
    shown: bool = True,
) -> Message:
    """A later change of state about `refers_to`, as a new entry of the log; a state the
    widget applies without a line of its own (a form closed) is not `shown`."""
    html = f'<p class="kc-system">{escape(text)}</p>' if shown else ""
    return message_create(
        conversation=conversation,
        role=Message.Role.SYSTEM,
        rendered=Rendered(kind=kind, text=text, html=html),
        data={"refersTo": refers_to.pk, **data},
    )


def user_message_accept(
    *, bot: Bot, identity: str, body: Mapping[str, Any], client_message_id: str
) -> tuple[Message, bool]:
    """Store a user message in the outbox; the same client_message_id is accepted once.

    Returns the message and whether it was new.
    """
    conversation = conversation_get_or_create(bot=bot, identity=identity)
    messages = conversation.messages
    try:
        with transaction.atomic():
            if _message_exists(plainsql.MESSAGE_WITH_CLIENT_ID, conversation, client_message_id):
                return messages.get(client_message_id=client_message_id), False
            # First, since it locks the conversation's row for the message's store too.
            Conversation.objects.filter(pk=conversation.pk).update(
                pending=True, last_activity_at=timezone.now()
            )
            if "formData" in body:
                message = _form_submission_accept(
                    conversation=conversation,
                    submitted=body["formData"],
                    client_message_id=client_message_id,
                )
            else:
                message = message_create(
                    conversation=conversation,
                    role=Message.Role.USER,
                    rendered=render_user_input(body),
                    data=body,
                    client_message_id=client_message_id,
                    status=Message.Status.ACCEPTED,
                    conversation_locked=True,
                )
                if body.get("attachments"):
                    attachments.attachments_attach(message=message, keys=body["attachments"])
            message_accepted_on_commit(conversation=conversation)
    except IntegrityError:
        # A concurrent request with the same id won the race: answer with its message.
        return messages.get(client_message_id=client_message_id), False
    return message, True


def _form_submission_accept(
    *, conversation: Conversation, submitted: forms.FormData, client_message_id: str
) -> Message:
    """Validate a Digital Form submission against the form the bot sent, then store it.

    What is forwarded is rebuilt from the form (its own components, in order, hidden and
    disabled ones with their prefill, the button entry); the user sees a read-only summary,
    and a system entry closes the form so that it stays closed after a reload.
    """
    form_message = selectors.form_message_find(
        conversation=conversation, form_id=submitted["formId"]
    )
    if form_message is None:
        raise ApplicationError(
            "unknown_form", "This conversation has no such form.", Kind.NOT_FOUND
        )
    if selectors.form_is_closed(form_message=form_message):
        raise ApplicationError(
            "form_closed", "This form was already submitted or cancelled.", Kind.CONFLICT
        )
    try:
        submission = forms.submission_prepare(form_message.data, submitted["data"])
    except forms.FormErrors as exc:
        raise ApplicationError("invalid_form", str(exc), extra={"fields": exc.fields}) from None
    message = message_create(
        conversation=conversation,
        role=Message.Role.USER,
        rendered=Rendered(kind=Message.Kind.FORM, text=submission.text, html=submission.html),
        data={"formData": submission.form_data, "secretFields": submission.secret_ids}
        if submission.secret_ids
        else {"formData": submission.form_data},
        client_message_id=client_message_id,
        status=Message.Status.ACCEPTED,
    )
    state = "cancelled" if submission.cancelled else "submitted"
    system_message_add(
        conversation=conversation,
        refers_to=form_message,
        kind=Message.Kind.EVENT,
        text=f"Form {state}",
        data={"state": state, "by": message.pk},
        shown=False,
    )
    return message


def bot_messages_store(
    *, conversation: Conversation, items: Sequence[BotMessageItem]
) -> list[Message]:
    """Store bot messages in order, each platform message id at most once."""
    stored = []
    # No savepoint: a failure here fails the caller's whole transaction (none goes on).
    with transaction.atomic(savepoint=False):
        # First, since it locks the conversation's row for the messages' stores too.
        Conversation.objects.filter(pk=conversation.pk).update(last_activity_at=timezone.now())
        for bot_item in items:
            pid = bot_item.platform_message_id
            if pid and _message_exists(plainsql.MESSAGE_WITH_PLATFORM_ID, conversation, pid):
                continue
            stored.append(
                message_create(
                    conversation=conversation,
                    role=Message.Role.BOT,
                    rendered=render_bot_item(bot_item.item),
                    data=bot_item.item,
                    platform_message_id=pid,
                    conversation_locked=True,
                )
            )
    return stored


def _message_exists(statement: plainsql.Statement, conversation: Conversation, value: str) -> bool:
    """Whether the conversation has a message with this client or platform id: asked on
    every send and every stored reply, in plain SQL (see conversation_get_or_create)."""
    return statement.one([conversation.pk, value]) is not None


def conversation_update(
    *,
    conversation: Conversation,
    pending: bool | None = None,
    session_started: bool | None = None,
    task_state: dict[str, Any] | None = None,
) -> None:
    changes: dict[str, Any] = {}
    if pending is not None:
        conversation_pending_set(conversation=conversation, pending=pending)
    if session_started is not None:
        changes["session_started"] = session_started
    if task_state is not None:
        changes["task_state"] = task_state
    if changes:
        Conversation.objects.filter(pk=conversation.pk).update(**changes)
        for field, value in changes.items():
            setattr(conversation, field, value)


def conversation_callback_awaited(*, conversation: Conversation, until: datetime) -> None:
    """A message went to an asynchronous bot: until `until`, a callback that names no user
    may be routed to this conversation (webclient/kore/callbacks.py)."""
    Conversation.objects.filter(pk=conversation.pk).update(
        awaiting_callback_until=until, callbacks_awaited=F("callbacks_awaited") + 1
    )


def conversation_callback_renewed(*, conversation: Conversation, until: datetime) -> None:
    """A callback came for the conversation's pending answer: its window goes on."""
    Conversation.objects.filter(pk=conversation.pk, callbacks_awaited__gt=0).update(
        awaiting_callback_until=until
    )


def conversation_callback_done(*, conversation: Conversation, all_of_them: bool = False) -> None:
    """A task ended (or a forward failed): one answer less to wait for; with none left, the
    window closes."""
    awaited = Conversation.objects.filter(pk=conversation.pk)
    if all_of_them:
        awaited.update(callbacks_awaited=0, awaiting_callback_until=None)
        return
    awaited.filter(callbacks_awaited__gt=0).update(callbacks_awaited=F("callbacks_awaited") - 1)
    awaited.filter(callbacks_awaited=0).update(awaiting_callback_until=None)


def conversation_pending_set(*, conversation: Conversation, pending: bool) -> None:
    """Set `pending`; a change wakes the conversation's polls, and their notifier forgets
    what it knew of the conversation (webclient/delivery/knowledge.py)."""
    with transaction.atomic(savepoint=False):
        changed = (
            Conversation.objects.filter(pk=conversation.pk)
            .exclude(pending=pending)
            .update(pending=pending)
        )
        if changed:
            notifier.changed(conversation.channel)
    conversation.pending = pending


def bot_check_record(*, bot: Bot, ok: bool, summary: str) -> None:
    """Keep the outcome of a connection check on the bot, for its admin page. An update of
    these columns alone: the relay's cached bots need not hear of it."""
    Bot.objects.filter(pk=bot.pk).update(
        last_check_at=timezone.now(), last_check_ok=ok, last_check_summary=summary[:300]
    )
