"""Test-wide setup: only loopback is ever a network target; the test database holds the
demo bots, as a `make run` database does."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models.signals import post_migrate

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_loopback(address: Any) -> None:
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            if host != "localhost":
                raise ConnectionRefusedError(
                    f"test guard: refusing to connect to {host!r}"
                ) from None
            return
        if not ip.is_loopback:
            raise ConnectionRefusedError(f"test guard: refusing non-loopback address {host}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_loopback(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_loopback(address)
    return _real_connect_ex(self, address)


def _seed_demo_bots(sender: Any, **kwargs: Any) -> None:
    """Seeds the test database once it is migrated (and again after a flush), so that it is
    in the serialized state that `serialized_rollback` tests return to."""
    if sender.label == "emulator":
        call_command("seed_demo", verbosity=0)


post_migrate.connect(_seed_demo_bots, dispatch_uid="tests-seed-demo-bots")

_db_blocker = pytest.StashKey[Any]()
_seeded_state = pytest.StashKey[str]()


def _serialized_rollback(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    return marker is not None and bool(marker.kwargs.get("serialized_rollback"))


@pytest.fixture(autouse=True)
def seeded_state_kept(request: pytest.FixtureRequest, django_db_blocker: Any) -> None:
    """Before the first `serialized_rollback` test, the seeded database as it is then (as
    after migrate), for `pytest_runtest_teardown` to restore."""
    stash = request.config.stash
    stash[_db_blocker] = django_db_blocker
    if _serialized_rollback(request.node) and _seeded_state not in stash:
        request.getfixturevalue("django_db_setup")
        from django.db import connection

        with django_db_blocker.unblock():
            stash[_seeded_state] = connection.creation.serialize_db_to_string()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """A `serialized_rollback` test ends with a flush that skips post_migrate, leaving the
    database without what post_migrate seeds (the demo bots, content types, permissions).
    In one process pytest-django runs such tests last; under xdist a worker runs whole files
    in turn, so the next file's tests would find it empty: restore it here, after the flush
    (every fixture is torn down when this hook's inner part returns). After the last test
    the test database is gone, and there is nothing to restore."""
    result = yield
    if nextitem is not None and _serialized_rollback(item):
        from django.db import connection

        with item.config.stash[_db_blocker].unblock():
            connection.creation.deserialize_db_from_string(item.config.stash[_seeded_state])
    return result


@pytest.fixture(autouse=True, scope="session")
def loopback_only() -> Any:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Any:
    """In-process tests start with no rate-limit counts (they live in the local cache)."""
    from django.core.cache import cache

    from webclient import botcache

    cache.clear()
    botcache.forget_all()  # bots a rolled-back test cached
    yield
    cache.clear()


@pytest.fixture(scope="session")
def live_server_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One server (`python -m kore_chat.serve`) for the session's end-to-end tests (each
    test uses fresh identities)."""
    from tests.liveserver import LiveServer

    server = LiveServer(tmp_path_factory.mktemp("live") / "db.sqlite3")
    server.migrate()
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """On PostgreSQL, a test database of this run's own, so that parallel runs never collide
    (pytest-django drops it at the end)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.postgresql":
        db["TEST"]["NAME"] = f"test_{db['NAME']}_{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Any:
    """Before the test database is dropped, let go of it: the notifier's listener and the
    connection pool (PostgreSQL) hold connections that would keep it from being dropped."""
    yield
    from django.db import connection, connections

    from webclient.delivery import notifier

    if connection.vendor != "postgresql":
        return
    notifier.stop()
    with django_db_blocker.unblock():
        for each in connections.all(initialized_only=True):
            each.close()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.close()
        connection.close_pool()  # type: ignore[attr-defined]


pytest_plugins = ["tests.browser"]


@pytest.fixture
def superuser_client(settings: Any, django_user_model: Any) -> Any:
    """A logged-in superuser (the demo bots' loopback upstream allowed, as DEBUG is off)."""
    from django.test import Client

    settings.KORE_ALLOW_LOOPBACK_UPSTREAM = True
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def demo(db: None) -> Any:
    """The seeded demo bot (V2, polling, trusts the browser's identity)."""
    from webclient.models import Bot

    return Bot.objects.get(slug="demo")


ClaimsFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def claims() -> ClaimsFactory:
    """Builds the claims of a hand-made token for a bot; a change set to None drops it."""

    def make(for_bot: Any, /, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        base: dict[str, Any] = {
            "appId": for_bot.client_id,
            "sub": "dave",
            "userIdentity": "dave",
            "bot": for_bot.slug,
            "identityProof": "browser",
            "iat": now,
            "exp": now + 600,
        }
        base.update(changes)
        return {k: v for k, v in base.items() if v is not None}

    return make
