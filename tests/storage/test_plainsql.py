"""The statements kept in plain SQL are named through the models' `_meta`, and a column that
changes under one of them fails it loudly: each is run against the real schema, then with
each of its columns renamed (in a transaction rolled back, no migration)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import FieldDoesNotExist
from django.db import DatabaseError, connection, models, transaction
from django.test.utils import isolate_apps
from django.utils import timezone

from bench.plainsql_bench import cases, checked
from webclient import plainsql, services
from webclient.models import Bot, Conversation, Message
from webclient.plainsql import Statement
from webclient.render import Rendered

pytestmark = pytest.mark.django_db

WEBCLIENT = Path(__file__).resolve().parents[2] / "webclient"


def example_params(conversation: Conversation, message: Message) -> dict[str, list[Any]]:
    """Parameters each statement runs with (one VALUES row where it takes rows)."""
    now = plainsql.moment(timezone.now())
    accepted, sent = Message.Status.ACCEPTED, Message.Status.SENT
    c, m, bot_id = conversation.pk, message.pk, conversation.bot_id
    return {
        "CONVERSATION_ID": [bot_id, conversation.identity],
        "MESSAGE_WITH_CLIENT_ID": [c, "client-1"],
        "MESSAGE_WITH_PLATFORM_ID": [c, "platform-1"],
        "POLL_STATES": [0, bot_id, conversation.identity, 0],
        "DISPATCH_LEASE_TAKE": ["owner", now, c, now, "owner"],
        "DISPATCH_LEASE_DROP": [c, "owner"],
        "OUTBOX_HEAD": [c, accepted],
        "MESSAGE_CLAIM": [now, now, m],
        "MESSAGE_SENT": [sent, m, accepted],
        "OUTBOX_WAITS": [c, accepted],
        "CALLBACK_DELIVERY_CLAIM": [c, "digest", now, now],
    }


@pytest.fixture
def run() -> Callable[[str], list[tuple[Any, ...]]]:
    """Runs a statement by name with its example parameters; its rows."""
    bot = Bot.objects.get(slug="demo")
    conversation = services.conversation_get_or_create(bot=bot, identity="plainsql")
    message = services.message_create(
        conversation=conversation,
        role=Message.Role.USER,
        rendered=Rendered(kind=Message.Kind.TEXT, text="hi", html=""),
        client_message_id="client-1",
        status=Message.Status.ACCEPTED,
    )
    params = example_params(conversation, message)

    def run(name: str) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(plainsql.STATEMENTS[name].rows(1), params[name])
            return cursor.fetchall() if cursor.description else []

    return run


class Undo(Exception):
    """Rolls the renamed column back."""


def renamed(model: type[models.Model], field: str) -> None:
    """Rename the field's column in the database only, as a migration the code missed would."""
    table = connection.ops.quote_name(model._meta.db_table)
    found = model._meta.get_field(field)
    assert isinstance(found, models.Field) and found.column
    column = found.column
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {table} RENAME COLUMN {connection.ops.quote_name(column)}"
            f" TO {connection.ops.quote_name(column + '_renamed')}"
        )


CASES = [
    pytest.param(name, model, field, id=f"{name}-{model.__name__}.{field}")
    for name, statement in plainsql.STATEMENTS.items()
    for model, field in statement.fields
]


def test_every_statement_has_example_parameters_and_runs_against_the_schema(
    run: Callable[[str], list[tuple[Any, ...]]],
) -> None:
    assert set(plainsql.STATEMENTS) == set(example_params(Conversation(), Message()))
    assert run("OUTBOX_WAITS") == [(1,)]  # before the claim below runs
    found = {name: run(name) for name in plainsql.STATEMENTS}
    assert found["MESSAGE_WITH_CLIENT_ID"] == [(1,)]
    assert found["OUTBOX_WAITS"] == []
    assert found["POLL_STATES"][0][2]  # the message is newer than cursor 0
    assert len(found["CALLBACK_DELIVERY_CLAIM"]) == 1


@pytest.mark.parametrize(("name", "model", "field"), CASES)
def test_a_statement_fails_loudly_when_one_of_its_columns_is_renamed(
    run: Callable[[str], list[tuple[Any, ...]]], name: str, model: type[models.Model], field: str
) -> None:
    run(name)  # it runs before the rename
    with pytest.raises(Undo), transaction.atomic():
        renamed(model, field)
        with pytest.raises(DatabaseError), transaction.atomic():
            run(name)
        raise Undo
    run(name)  # and again once the rename is rolled back


def test_each_statement_answers_what_the_orm_query_it_replaces_answers() -> None:
    """The benchmark's pairs: the same answer, one query each (before and after a change)."""
    pairs = cases()
    assert {name.split(" ")[0] for name in pairs} == set(plainsql.STATEMENTS) - {
        "MESSAGE_WITH_PLATFORM_ID",  # MESSAGE_WITH_CLIENT_ID's twin
        "CALLBACK_DELIVERY_CLAIM",  # no ORM equivalent in one statement
    }
    for name, (orm, plain) in pairs.items():
        checked(name, orm, plain)
    # Another state: the message sent, the conversation served elsewhere and pending.
    later = timezone.now() + timedelta(hours=1)
    Message.objects.filter(conversation__identity="bench").update(
        status=Message.Status.SENT, forward_started_at=timezone.now()
    )
    Conversation.objects.filter(identity="bench").update(
        pending=True, dispatch_owner="other", dispatch_lease_until=later
    )
    for name, (orm, plain) in pairs.items():
        checked(name, orm, plain)


def test_a_template_naming_a_field_the_model_lacks_fails_when_it_is_defined() -> None:
    with pytest.raises(FieldDoesNotExist):
        Statement("SELECT {m.state} FROM {m}", m=Message)


def test_a_template_naming_a_relation_without_a_column_fails_when_it_is_defined() -> None:
    with pytest.raises(ValueError, match="no column"):
        Statement("SELECT {c.messages} FROM {c}", c=Conversation)


@isolate_apps("webclient")
def test_a_template_follows_a_models_table_and_column_names() -> None:
    class Renamed(models.Model):
        status = models.CharField(max_length=8, db_column="state")

        class Meta:
            app_label = "webclient"
            db_table = "renamed_messages"

        def __str__(self) -> str:
            return self.status

    statement = Statement("UPDATE {m} SET {m.status:bare} = %s WHERE {m.id} = %s", m=Renamed)
    assert statement.sql == (
        'UPDATE "renamed_messages" SET "state" = %s WHERE "renamed_messages"."id" = %s'
    )
    assert statement.fields == ((Renamed, "status"), (Renamed, "id"))


def test_a_statement_takes_as_many_values_rows_as_asked() -> None:
    statement = Statement("VALUES {rows}", row="(%s, %s)")
    assert statement.rows(3) == "VALUES (%s, %s), (%s, %s), (%s, %s)"


def test_no_product_module_but_plainsql_writes_sql_text_naming_a_models_table() -> None:
    """SQL built from strings lives in webclient/plainsql.py only, where every name comes
    from `_meta`; elsewhere the ORM writes it."""
    offenders = [
        str(path.relative_to(WEBCLIENT))
        for path in WEBCLIENT.rglob("*.py")
        if "migrations" not in path.parts
        and path.name != "plainsql.py"
        and any(word in path.read_text(encoding="utf-8") for word in ("S608", "db_table"))
    ]
    assert offenders == []


def test_the_lease_take_statement_serves_one_owner_at_a_time(
    run: Callable[[str], list[tuple[Any, ...]]],
) -> None:
    conversation = Conversation.objects.get(identity="plainsql")
    now = timezone.now()
    take = plainsql.DISPATCH_LEASE_TAKE
    lease = plainsql.moment(now + timedelta(seconds=30))
    assert take.count(["a", lease, conversation.pk, plainsql.moment(now), "a"]) == 1
    assert take.count(["b", lease, conversation.pk, plainsql.moment(now), "b"]) == 0
    assert take.count(["a", lease, conversation.pk, plainsql.moment(now), "a"]) == 1
