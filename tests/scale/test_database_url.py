"""DATABASE_URL becomes Django's PostgreSQL settings, or a clear configuration error."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from kore_chat.settings import postgres_settings


def parse(url: str) -> dict[str, object]:
    return postgres_settings(url, pool_max=14, pool_min=2, pool_timeout=10, pool_reconnect=2)


def test_every_part_of_the_url_is_used_and_escapes_are_undone() -> None:
    db = parse("postgresql://kore:p%40ss%2Fword@db.internal:6543/kore_chat?sslmode=require")
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "kore_chat",
        "kore",
        "p@ss/word",
        "db.internal",
        "6543",
    )
    assert db["OPTIONS"] == {
        "sslmode": "require",
        "pool": {"min_size": 2, "max_size": 14, "timeout": 10, "reconnect_timeout": 2},
    }


def test_host_and_port_may_be_left_to_libpq() -> None:
    db = parse("postgres:///kore_chat")
    assert (db["HOST"], db["PORT"], db["USER"]) == ("", "", "")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://db/kore", "must start with postgres://"),
        ("postgres://db.internal", "must name a database"),
        ("postgres://db.internal:port/kore", "invalid port"),
    ],
)
def test_a_wrong_url_is_a_clear_configuration_error(url: str, says: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=says):
        parse(url)
