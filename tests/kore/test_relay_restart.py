"""The outbox across process deaths, and the relay's own time limits, each on its own server.

A message accepted but never forwarded is forwarded exactly once after a restart; one whose
forward was cut off mid-call is failed with a visible reason and never sent again.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from tests import relay_helpers as relay
from tests.client import ChatUser
from tests.waiting import wait_until

GREETING = "Hello! Nice to meet you."


def test_a_message_accepted_before_a_crash_is_forwarded_once_after_restart(
    tmp_path: Path,
) -> None:
    db = tmp_path / "db.sqlite3"
    identity = f"restart-{uuid.uuid4()}"
    before = relay.relay_server(db, KORE_DISPATCHER="false")
    before.migrate()
    before.start()
    try:
        user = ChatUser(before.url, "demo", identity=identity)
        assert user.send(text="hello").status_code == 202
        (accepted,) = user.history()
        assert accepted["status"] == "accepted"
    finally:
        before.stop(kill=True)

    after = relay.relay_server(db).start()
    try:
        user = ChatUser(after.url, "demo", identity=identity)
        relay.final_history(user, relay.has_bot_text(GREETING))
        # A marker sent after it: a conversation's messages are forwarded in order, so once
        # the marker is answered, a second forward of "hello" would have been made too.
        user.send(text="the marker")
        history = relay.final_history(user, relay.has_bot_text("the marker"))
        assert [(m["role"], m["text"]) for m in history][:3] == [
            ("user", "hello"),
            ("bot", GREETING),
            ("user", "the marker"),
        ]
        assert len(history) == 4
        assert history[0]["status"] == "sent"
        record = relay.emulator_record(after.url, identity)
        assert [relay.utterance(m) for m in relay.sent_messages(record)] == ["hello", "the marker"]
        assert len(record["requests"]) == 2
    finally:
        after.stop()


def test_a_forward_cut_off_mid_call_is_failed_visibly_and_not_sent_again(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    identity = f"cut-{uuid.uuid4()}"
    lease = {"KORE_FORWARD_LEASE": "2"}
    before = relay.relay_server(db, **lease)
    before.migrate()
    before.start()
    try:
        user = ChatUser(before.url, "demo-v1-sync", identity=identity)
        user.send(text="slow 10")
        # Once the platform holds the V1 sync call (for 10 s), kill the server inside it.
        wait_until(
            lambda: relay.emulator_record(before.url, identity)["requests"],
            message="the forward never started",
        )
    finally:
        before.stop(kill=True)

    after = relay.relay_server(db, **lease).start()
    try:
        user = ChatUser(after.url, "demo-v1-sync", identity=identity)
        history = relay.final_history(
            user, lambda ms: bool(relay.of_role(ms, "system")), timeout=15
        )
        sent, notice = history
        assert (sent["text"], sent["status"]) == ("slow 10", "failed")
        assert notice["data"]["refersTo"] == sent["id"]
        assert "interrupted" in notice["text"]
        assert relay.emulator_record(after.url, identity)["requests"] == []
        # The conversation is not stuck behind it.
        user.send(text="hello")
        history = relay.final_history(user, relay.has_bot_text(GREETING))
        assert relay.texts(history) == [GREETING]
        assert [
            relay.utterance(m)
            for m in relay.sent_messages(relay.emulator_record(after.url, identity))
        ] == ["hello"]
    finally:
        after.stop()


def test_the_relays_own_timeout_and_poll_deadline_end_in_a_clear_state(tmp_path: Path) -> None:
    server = relay.relay_server(
        tmp_path / "db.sqlite3", KORE_READ_TIMEOUT="2", KORE_POLL_DEADLINE="2"
    )
    server.migrate()
    server.start()
    try:
        # V1 sync held longer than our read timeout: failed, and not sent a second time.
        v1 = ChatUser(server.url, "demo-v1-sync")
        v1.send(text="slow 6")
        history = relay.final_history(v1, lambda ms: bool(relay.of_role(ms, "system")))
        assert history[0]["status"] == "failed"
        assert "did not answer in time" in history[1]["text"]
        assert len(relay.emulator_record(server.url, v1.identity)["requests"]) == 1

        # A V2 poll chain running past KORE_POLL_DEADLINE: what came is kept, the user is told.
        v2 = ChatUser(server.url, "demo")
        v2.send(text="slow 8")
        history = relay.final_history(v2, lambda ms: bool(relay.of_role(ms, "system")), timeout=15)
        assert relay.texts(history) == ["Working on it, this takes 8 s…"]
        (notice,) = relay.of_role(history, "system")
        assert notice["data"]["refersTo"] == history[0]["id"]
        assert notice["data"]["status"] == "deadline"
        assert history[0]["status"] == "sent"
    finally:
        server.stop()
