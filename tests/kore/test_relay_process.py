"""The production layout: a web worker that runs no dispatcher (KORE_DISPATCHER=false) and
`manage.py relay` processes beside it on one PostgreSQL database, checked against the
emulator's record of what the bot received (the emulator runs in a process of its own).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.client import ChatUser
from tests.relay_helpers import final_history, has_bot_text, of_role, texts
from tests.scale.cluster import Cluster, cluster
from tests.scale.test_outbox_across_workers import received_in_order
from tests.servers import redis_url

GREETING = "Hello! Nice to meet you."


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[Cluster]:
    """One web worker without a dispatcher and the emulator; relays are started by each test.
    Leases of 2 s: a killed relay's are noticed soon."""
    with cluster(
        tmp_path, 1, {"KORE_FORWARD_LEASE": "2", "KORE_DISPATCHER": "false"}, emulator=True
    ) as group:
        yield group


def forward_started(group: Cluster, identity: str, count: int = 1) -> None:
    """Wait until the bot has received `count` requests for this user."""
    assert group.emulator is not None
    deadline = time.monotonic() + 15
    while len(received_in_order(group.emulator.url, identity)) < count:
        assert time.monotonic() < deadline, "the forward never started"
        time.sleep(0.05)


@pytest.fixture(params=["postgres", "redis"])
def default_lease(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """As `layout` with the default lease (30 s): the relay looks at the whole outbox when it
    starts, when its listener connects, and then only every 15 s. Its wake-ups come through
    PostgreSQL's LISTEN/NOTIFY or Redis pub/sub (a channel of this test's own)."""
    env = {"KORE_DISPATCHER": "false"}
    if request.param == "redis":
        env |= {
            "NOTIFY_BACKEND": "redis",
            "REDIS_URL": redis_url(),
            "NOTIFY_REDIS_CHANNEL": f"kc-relayproc-{uuid.uuid4()}",
        }
    with cluster(tmp_path, 1, env, emulator=True) as group:
        yield group


def test_a_message_accepted_by_a_web_worker_is_relayed_end_to_end_by_a_relay_process(
    default_lease: Cluster,
) -> None:
    (web,) = default_lease.workers
    assert default_lease.emulator is not None
    user = ChatUser(web.url, "demo", identity=f"e2e-{uuid.uuid4()}")
    # The web worker keeps what it accepts: no relay runs yet.
    assert user.send(text="hello").status_code == 202
    (accepted,) = user.history()
    assert accepted["status"] == "accepted"
    # A relay that starts forwards what waits (its first looks at the outbox)...
    relay = default_lease.relay().start()
    final_history(user, has_bot_text(GREETING))
    # ...and what is accepted from then on, woken by the web worker's notification: its
    # next look on the timer is 15 s after the one that found "hello".
    assert user.send(text="again").status_code == 202
    history = final_history(user, has_bot_text("You said: again"), timeout=8)
    assert texts(history) == [GREETING, "You said: again"]
    assert [m["status"] for m in of_role(history, "user")] == ["sent", "sent"]
    assert received_in_order(default_lease.emulator.url, user.identity) == ["hello", "again"]
    assert relay.process is not None and relay.process.poll() is None


def test_a_relay_killed_mid_forward_loses_and_duplicates_nothing_and_a_restarted_one_resumes(
    layout: Cluster,
) -> None:
    (web,) = layout.workers
    assert layout.emulator is not None
    relay = layout.relay().start()
    user = ChatUser(web.url, "demo-v1-sync", identity=f"kill-{uuid.uuid4()}")
    # The platform holds this V1 sync call for 10 s: the relay dies inside it.
    user.send(text="slow 10")
    forward_started(layout, user.identity)
    for text in ("one", "two"):
        assert user.send(text=text).status_code == 202
    relay.kill()
    # Nothing moves without a relay: all three still as they were.
    assert [(m["text"], m["status"]) for m in user.history()] == [
        ("slow 10", "accepted"),
        ("one", "accepted"),
        ("two", "accepted"),
    ]
    layout.relay().start()
    history = final_history(
        user, lambda ms: len(of_role(ms, "bot")) == 2 and bool(of_role(ms, "system")), timeout=30
    )
    # The forward in flight: failed visibly by the lease rules, never sent again.
    statuses = [(m["text"], m["status"]) for m in of_role(history, "user")]
    assert statuses == [("slow 10", "failed"), ("one", "sent"), ("two", "sent")]
    (notice,) = of_role(history, "system")
    assert "interrupted" in notice["text"]
    assert texts(history) == ["You said: one", "You said: two"]
    # A marker after them, forwarded in turn: any second forward of the earlier ones would
    # have been claimed before it.
    user.send(text="three")
    history = final_history(user, has_bot_text("You said: three"))
    assert received_in_order(layout.emulator.url, user.identity) == [
        "slow 10",
        "one",
        "two",
        "three",
    ]


def test_sigterm_lets_the_forward_in_flight_finish_within_the_grace_and_claims_nothing_more(
    layout: Cluster,
) -> None:
    (web,) = layout.workers
    assert layout.emulator is not None
    relay = layout.relay()
    relay.env["KORE_RELAY_STOP_GRACE"] = "20"
    relay.start()
    user = ChatUser(web.url, "demo-v1-sync", identity=f"term-{uuid.uuid4()}")
    # Held by the platform for 3 s.
    user.send(text="slow 3")
    forward_started(layout, user.identity)
    assert user.send(text="queued").status_code == 202
    status, took = relay.terminate(timeout=25)
    assert status == 0, relay.log()
    assert took < 20
    # The one in flight finished; the one queued behind it was left for the next relay.
    history = user.history()
    assert [(m["text"], m["status"]) for m in of_role(history, "user")] == [
        ("slow 3", "sent"),
        ("queued", "accepted"),
    ]
    assert texts(history)[-1] == "Done after 3 s."
    assert received_in_order(layout.emulator.url, user.identity) == ["slow 3"]
    # It let go of the conversation: a new relay forwards the rest at once, not after a lease.
    layout.relay().start()
    history = final_history(user, has_bot_text("You said: queued"))
    assert received_in_order(layout.emulator.url, user.identity) == ["slow 3", "queued"]


def test_two_relay_processes_forward_each_message_once_in_order(layout: Cluster) -> None:
    (web,) = layout.workers
    assert layout.emulator is not None
    upstream = layout.emulator.url
    layout.relay().start()
    layout.relay().start()
    conversations, per_conversation = 12, 5

    def converse(n: int) -> tuple[str, list[str]]:
        user = ChatUser(web.url, "demo", identity=f"two-{n}-{uuid.uuid4()}")
        words = [f"message {k} of {n}" for k in range(per_conversation)]
        for word in words:
            assert user.send(text=word).status_code == 202
        final_history(user, lambda ms: len(of_role(ms, "bot")) == per_conversation, timeout=60)
        # The marker: forwarded after all of them, in turn.
        user.send(text="done")
        history = final_history(user, has_bot_text("You said: done"), timeout=30)
        assert texts(history) == [f"You said: {word}" for word in [*words, "done"]]
        return user.identity, [*words, "done"]

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(converse, range(conversations)))
    for identity, words in results:
        assert received_in_order(upstream, identity) == words


def test_the_relay_command_refuses_the_local_notifier_with_a_clear_error(
    settings: SettingsWrapper,
) -> None:
    # SQLite's notifier wakes only its own process: web workers would never hear the answers.
    settings.NOTIFY_BACKEND = "local"
    with pytest.raises(CommandError, match="needs a notifier shared by processes"):
        call_command("relay")
