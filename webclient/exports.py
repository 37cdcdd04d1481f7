"""Conversation exports for operators: JSON and CSV, produced as a stream of chunks.

Rows are read in batches (`iterator`), so a large selection never sits in memory and the
download starts at once. Messages are exported as the API shows them: a Digital Form
submission's secret inputs (passwords, PINs) are masked in `data` as in its `html`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet

from webclient import forms
from webclient.models import Conversation, Message

BATCH = 500
CSV_COLUMNS = (
    "conversation",
    "bot",
    "identity",
    "message",
    "created_at",
    "role",
    "kind",
    "status",
    "text",
    "failure_reason",
    "request_id",
)


def message_export(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "createdAt": message.created_at.isoformat(),
        "role": message.role,
        "kind": message.kind,
        "status": message.status,
        "text": message.text,
        "html": message.html,
        "data": forms.shown_data(message.data),
        "clientMessageId": message.client_message_id,
        "failureReason": message.failure_reason,
        "requestId": message.request_id,
    }


def conversation_export(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "bot": conversation.bot.slug,
        "identity": conversation.identity,
        "createdAt": conversation.created_at.isoformat(),
        "lastActivityAt": conversation.last_activity_at.isoformat(),
        "pending": conversation.pending,
        "taskState": conversation.task_state,
        "messages": [
            message_export(m) for m in conversation.messages.order_by("id").iterator(BATCH)
        ],
    }


def _conversations(queryset: QuerySet[Conversation]) -> Iterator[Conversation]:
    return queryset.select_related("bot").order_by("id").iterator(BATCH)


def json_chunks(queryset: QuerySet[Conversation]) -> Iterator[str]:
    """A JSON array of conversations, one conversation per chunk."""
    yield "["
    for n, conversation in enumerate(_conversations(queryset)):
        separator = "," if n else ""
        yield separator + json.dumps(conversation_export(conversation), ensure_ascii=False)
    yield "]\n"


# A cell a spreadsheet would read as a formula. Every cell is guarded, not only the texts:
# identities, bot slugs and request ids (a caller may choose its X-Request-ID) can start
# with any of these too.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def _csv_line(row: Iterable[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_cell(value) for value in row])
    return buffer.getvalue()


def csv_chunks(queryset: QuerySet[Conversation]) -> Iterator[str]:
    """One row per message, with its conversation's bot and identity."""
    yield _csv_line(CSV_COLUMNS)
    for conversation in _conversations(queryset):
        for m in conversation.messages.order_by("id").iterator(BATCH):
            yield _csv_line(
                (
                    conversation.pk,
                    conversation.bot.slug,
                    conversation.identity,
                    m.pk,
                    m.created_at.isoformat(),
                    m.role,
                    m.kind,
                    m.status,
                    m.text,
                    m.failure_reason,
                    m.request_id,
                )
            )
