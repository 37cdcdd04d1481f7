"""The few statements a message's path runs in plain SQL, each named through the models.

The ORM builds its SQL in Python on every call: for the small indexed statements that every
message and every poll runs, that costs several times what the database takes to run them,
on SQLite and on PostgreSQL (bench/plainsql_bench.py, docs/performance.md). Those statements,
and only those, are written here; everything else goes through the ORM.

Each is a template whose names come from the models' public `_meta` API when the statement
is defined (at import): `{m}` is `m._meta.db_table`, `{m.field}` is the column of
`m._meta.get_field("field")` qualified by its table, and `{m.field:bare}` the column alone,
for the places SQL allows nothing else (SET, an INSERT's and ON CONFLICT's lists), all
quoted. A renamed field fails at import (`FieldDoesNotExist`), a changed `db_table` or
`db_column` is followed, and a column changed under the model fails the statement that
names it (tests/storage/test_plainsql.py renames each one). Qualified, since SQLite takes a
double-quoted name that matches no column for a string literal: a bare `"status"` whose
column was renamed would be compared as the text 'status', silently; `"table"."status"` is
an error. Values are always parameters (`%s`), never text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models

from webclient.models import CallbackDelivery, Conversation, Message

# Where a statement takes a variable number of VALUES rows (`Statement.rows`).
_ROWS = "{rows}"


class _Column:
    __slots__ = ("column", "table")

    def __init__(self, table: str, column: str) -> None:
        self.table, self.column = table, column

    def __format__(self, spec: str) -> str:
        if spec == "bare":
            return self.column
        if spec:
            raise ValueError(f"unknown column format {spec!r}: only 'bare'")
        return f"{self.table}.{self.column}"


class _Names:
    """A model as a template sees it: its table, and its fields' columns by field name."""

    __slots__ = ("_model", "_used")

    def __init__(self, model: type[models.Model], used: list[tuple[type[models.Model], str]]):
        self._model = model
        self._used = used

    def __format__(self, spec: str) -> str:
        if spec:
            raise ValueError(f"a table takes no format, got {spec!r}")
        return connection.ops.quote_name(self._model._meta.db_table)

    def __getattr__(self, name: str) -> _Column:
        field = self._model._meta.get_field(name)
        if not isinstance(field, models.Field) or not field.column:
            raise ValueError(f"{self._model.__name__}.{name} has no column of its own")
        self._used.append((self._model, name))
        return _Column(format(self), connection.ops.quote_name(field.column))


class Statement:
    """One statement: its SQL, and the (model, field) pairs it names, for the tests."""

    def __init__(self, template: str, *, row: str = "", **names: type[models.Model]) -> None:
        used: list[tuple[type[models.Model], str]] = []
        self.sql = template.format(rows=_ROWS, **{k: _Names(m, used) for k, m in names.items()})
        self.fields = tuple(dict.fromkeys(used))
        self._row = row

    def rows(self, count: int) -> str:
        """The SQL for `count` VALUES rows, each `row` (its placeholders)."""
        return self.sql.replace(_ROWS, ", ".join([self._row] * count))

    def one(self, params: Sequence[Any]) -> tuple[Any, ...] | None:
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            return cursor.fetchone()

    def count(self, params: Sequence[Any]) -> int:
        """Run it; the number of rows it changed."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            return int(cursor.rowcount)

    def all(self, params: Sequence[Any], *, rows: int) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(self.rows(rows), params)
            return cursor.fetchall()


_DATETIME = models.DateTimeField()


def moment(value: datetime) -> Any:
    """A datetime as the database takes it as a parameter: what the ORM sends for a
    DateTimeField (its documented `get_db_prep_value`)."""
    return _DATETIME.get_db_prep_value(value, connection)


# ---- a send ------------------------------------------------------------------------------

# The conversation's id, asked on every send.
CONVERSATION_ID = Statement(
    "SELECT {c.id} FROM {c} WHERE {c.bot} = %s AND {c.identity} = %s", c=Conversation
)
# Whether the conversation has a message with this client id (each send) or platform id
# (each stored reply).
MESSAGE_WITH_CLIENT_ID = Statement(
    "SELECT 1 FROM {m} WHERE {m.conversation} = %s AND {m.client_message_id} = %s LIMIT 1",
    m=Message,
)
MESSAGE_WITH_PLATFORM_ID = Statement(
    "SELECT 1 FROM {m} WHERE {m.conversation} = %s AND {m.platform_message_id} = %s LIMIT 1",
    m=Message,
)

# ---- a poll ------------------------------------------------------------------------------

# For each (n, bot id, identity, cursor): the conversation's `pending`, and whether it has a
# message after the cursor; the polls of one turn of the event loop ask together.
POLL_STATES = Statement(
    "WITH q (n, bot_id, identity, cursor_id) AS (VALUES {rows})"
    " SELECT q.n, {c.pending}, EXISTS (SELECT 1 FROM {m}"
    " WHERE {m.conversation} = {c.id} AND {m.id} > q.cursor_id)"
    " FROM q JOIN {c} ON {c.bot} = q.bot_id AND {c.identity} = q.identity",
    row="(%s, %s, %s, %s)",
    c=Conversation,
    m=Message,
)

# ---- the relay: one process serves a conversation, claims, forwards, settles ---------------

# Serve the conversation from an owner unless another one's lease holds it:
# [owner, lease until, conversation id, now, owner].
DISPATCH_LEASE_TAKE = Statement(
    "UPDATE {c} SET {c.dispatch_owner:bare} = %s, {c.dispatch_lease_until:bare} = %s"
    " WHERE {c.id} = %s AND ({c.dispatch_lease_until} IS NULL"
    " OR {c.dispatch_lease_until} < %s OR {c.dispatch_owner} = %s)",
    c=Conversation,
)
# Let go of it: [conversation id, owner].
DISPATCH_LEASE_DROP = Statement(
    "UPDATE {c} SET {c.dispatch_owner:bare} = '', {c.dispatch_lease_until:bare} = NULL"
    " WHERE {c.id} = %s AND {c.dispatch_owner} = %s",
    c=Conversation,
)
# The conversation's oldest accepted message, and whether its forward started:
# [conversation id, accepted].
OUTBOX_HEAD = Statement(
    "SELECT {m.id}, {m.forward_started_at} FROM {m}"
    " WHERE {m.conversation} = %s AND {m.status} = %s ORDER BY {m.id} LIMIT 1",
    m=Message,
)
# Claim it: [started at, lease until, message id].
MESSAGE_CLAIM = Statement(
    "UPDATE {m} SET {m.forward_started_at:bare} = %s, {m.forward_lease_until:bare} = %s"
    " WHERE {m.id} = %s",
    m=Message,
)
# The platform took it, unless its lease lapsed and it was failed: [sent, id, accepted].
MESSAGE_SENT = Statement(
    "UPDATE {m} SET {m.status:bare} = %s WHERE {m.id} = %s AND {m.status} = %s", m=Message
)
# Whether a message of the conversation waits to be forwarded: [conversation id, accepted].
OUTBOX_WAITS = Statement(
    "SELECT 1 FROM {m} WHERE {m.conversation} = %s AND {m.status} = %s"
    " AND {m.forward_started_at} IS NULL LIMIT 1",
    m=Message,
)

# ---- a callback without platform ids -------------------------------------------------------

# Insert the delivery's key, or re-arm it if its window lapsed, in one atomic statement that
# returns a row only when it did: [conversation id, digest, now, window's start]. Plain SQL
# for what it says, not for speed: the ORM has no conditional ON CONFLICT … DO UPDATE … WHERE.
CALLBACK_DELIVERY_CLAIM = Statement(
    "INSERT INTO {d} ({d.conversation:bare}, {d.digest:bare}, {d.seen_at:bare})"
    " VALUES (%s, %s, %s) ON CONFLICT ({d.conversation:bare}, {d.digest:bare})"
    " DO UPDATE SET {d.seen_at:bare} = excluded.{d.seen_at:bare}"
    " WHERE {d.seen_at} < %s RETURNING {d.id}",
    d=CallbackDelivery,
)

STATEMENTS = {
    name: value for name, value in list(globals().items()) if isinstance(value, Statement)
}
