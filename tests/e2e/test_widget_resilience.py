"""The widget's connection state machine, optimistic sending, shared long-poll and controls."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.widget import (
    goto_chat,
    message_value,
    open_chat,
    received_by_bot,
    received_text,
    say,
    send,
    wait_for_bot,
    wait_for_state,
)

pytestmark = pytest.mark.browser


def answer_with_error(
    route: Any, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    """Fulfil an intercepted request with the API's error body."""
    body = json.dumps({"error": {"code": code, "message": message}})
    route.fulfill(status=status, headers=headers, content_type="application/json", body=body)


def fail_sends(page: Any, fail: Any) -> None:
    """Answer each message the widget sends (a POST) with fail(route); let its polls through."""
    page.route(
        "**/api/v1/messages",
        lambda route: fail(route) if route.request.method == "POST" else route.continue_(),
    )


def times_said(base_url: str, identity: str, text: str) -> int:
    return [message_value(b) for b in received_by_bot(base_url, identity)].count(text)


def test_the_header_shows_online_offline_and_online_again(
    new_context: Any, live_server_url: str
) -> None:
    page, _ = open_chat(new_context, live_server_url)
    wait_for_state(page, "online")
    assert page.locator("[data-kc-connection]").inner_text().strip() == "Online"
    page.context.set_offline(True)
    wait_for_state(page, "offline", 5_000)
    page.context.set_offline(False)
    wait_for_state(page, "online", 5_000)


def test_an_unknown_bot_shows_a_clear_message_with_the_input_disabled_and_calls_nothing(
    new_context: Any, live_server_url: str
) -> None:
    context = new_context()
    page = context.new_page()
    calls: list[str] = []
    context.on("request", lambda r: calls.append(r.url) if "/api/" in r.url else None)
    page.goto(f"{live_server_url}/?bot=no-such-bot")
    wait_for_state(page, "ended")
    assert page.locator("[data-kc-connection]").inner_text() == "This chat is unavailable."
    assert "no chat named “no-such-bot”" in page.locator("[data-kc-reason]").inner_text()
    assert "This field" not in page.content()
    assert page.locator("textarea").is_disabled()
    assert page.locator("button[type=submit]").is_disabled()
    # The page runs no script at all: nothing can call the API, now or later.
    assert page.locator("script").count() == 0
    assert calls == []


def test_a_refused_token_is_reissued_once_then_the_widget_stops_as_expired(
    new_context: Any, live_server_url: str
) -> None:
    page, _ = open_chat(new_context, live_server_url)
    page.route(
        "**/api/v1/messages*", lambda route: answer_with_error(route, 401, "invalid_token", "No.")
    )
    calls: list[str] = []
    page.on("request", lambda r: calls.append(r.url) if "/api/" in r.url else None)
    say(page, "are you there?")
    wait_for_state(page, "expired")
    assert [url.rsplit("/", 1)[-1] for url in calls] == ["messages", "sts", "messages"]
    page.wait_for_timeout(2000)
    assert len(calls) == 3
    assert "expired" in page.locator("[data-kc-connection]").inner_text()


def test_a_429_is_retried_no_sooner_than_its_retry_after(
    new_context: Any, live_server_url: str
) -> None:
    page, identity = open_chat(new_context, live_server_url)
    attempts: list[float] = []

    def slow_down_once(route: Any) -> None:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            answer_with_error(route, 429, "rate_limited", "Slow down.", {"Retry-After": "2"})
        else:
            route.continue_()

    page.route("**/api/v1/messages", slow_down_once)
    say(page, "patience")
    # Waiting through Playwright: route handlers run only while it has control.
    wait_for_bot(page, "patience")
    assert attempts[1] - attempts[0] >= 1.9
    assert times_said(live_server_url, identity, "patience") == 1


def test_a_message_typed_offline_shows_at_once_and_arrives_once_within_2_s_of_the_network(
    new_context: Any, live_server_url: str
) -> None:
    page, identity = open_chat(new_context, live_server_url)
    page.context.set_offline(True)
    say(page, "typed in a tunnel")
    bubble = page.locator(".kc-role-user", has_text="typed in a tunnel")
    bubble.wait_for(timeout=500)
    assert bubble.get_attribute("data-kc-delivery") == "queued"
    # Long enough offline for the back-off to grow well past 2 s.
    page.wait_for_timeout(9000)
    page.context.set_offline(False)
    back = time.monotonic()
    received_text(live_server_url, identity, "typed in a tunnel", 2)
    assert time.monotonic() - back < 2
    wait_for_bot(page, "typed in a tunnel")
    assert times_said(live_server_url, identity, "typed in a tunnel") == 1
    assert page.locator(".kc-role-user", has_text="typed in a tunnel").count() == 1
    assert page.locator(".kc-pending").count() == 0


def test_a_sent_bubble_becomes_the_servers_message_without_a_duplicate(
    new_context: Any, live_server_url: str
) -> None:
    page, _ = open_chat(new_context, live_server_url)
    send(page, "just once")
    wait_for_bot(page, "just once")
    assert page.locator(".kc-role-user", has_text="just once").count() == 1


def test_a_refused_message_is_marked_failed_and_its_retry_button_sends_it(
    new_context: Any, live_server_url: str
) -> None:
    page, identity = open_chat(new_context, live_server_url)
    fail_sends(
        page, lambda route: answer_with_error(route, 400, "invalid", "Refused for the test.")
    )
    say(page, "second chance")
    failed = page.locator('.kc-role-user[data-kc-delivery="failed"]', has_text="second chance")
    failed.wait_for()
    assert "Refused for the test." in failed.inner_text()
    page.unroute("**/api/v1/messages")
    failed.get_by_role("button", name="Retry").click()
    received_text(live_server_url, identity, "second chance")
    page.locator(".kc-role-user[data-kc-id]", has_text="second chance").wait_for()
    assert page.locator(".kc-role-user", has_text="second chance").count() == 1


def held_polls(context: Any) -> dict[Any, int]:
    """Long-polls in flight, by page (filled as they start and end)."""
    held: dict[Any, int] = {}

    def started(request: Any) -> None:
        if "wait=25" in request.url:
            held[request.frame.page] = held.get(request.frame.page, 0) + 1

    def ended(request: Any) -> None:
        if "wait=25" in request.url:
            held[request.frame.page] -= 1

    context.on("request", started)
    context.on("requestfinished", ended)
    context.on("requestfailed", ended)
    return held


def test_two_tabs_share_one_long_poll_and_the_second_takes_over_when_the_first_closes(
    new_context: Any, live_server_url: str
) -> None:
    context = new_context()
    held = held_polls(context)
    first = context.new_page()
    goto_chat(first, live_server_url + "/")
    second = context.new_page()
    goto_chat(second, live_server_url + "/")
    second.wait_for_timeout(1500)
    assert held.get(first) == 1
    assert held.get(second, 0) == 0
    # The follower still sees what arrives, through the leader.
    say(second, "from the second tab")
    wait_for_bot(second, "from the second tab")
    wait_for_bot(first, "from the second tab")

    # The follower shows the shared connection's state.
    context.set_offline(True)
    wait_for_state(second, "offline", 5_000)
    context.set_offline(False)
    wait_for_state(second, "online", 5_000)

    first.close()
    second.locator("[data-kc-chat][data-kc-leader]").wait_for(state="attached", timeout=5_000)
    second.wait_for_timeout(500)
    assert held.get(second) == 1
    say(second, "after the takeover")
    wait_for_bot(second, "after the takeover")


def test_end_chat_sends_session_closure_and_shows_the_chat_ended(
    new_context: Any, live_server_url: str
) -> None:
    page, identity = open_chat(new_context, live_server_url)
    page.get_by_role("button", name="End chat").click()
    wait_for_state(page, "ended")
    received_text(live_server_url, identity, "SESSION_CLOSURE")
    # Writing again picks the conversation up.
    say(page, "one more thing")
    wait_for_state(page, "online")
    wait_for_bot(page, "one more thing")


def test_new_chat_starts_afresh_and_stays_fresh_after_a_reload(
    new_context: Any, live_server_url: str
) -> None:
    page, identity = open_chat(new_context, live_server_url)
    say(page, "the old topic")
    wait_for_bot(page, "the old topic")
    page.get_by_role("button", name="New chat").click()
    wait_for_bot(page, "demo bot")
    assert "the old topic" not in page.locator("[data-kc-log]").inner_text()
    bodies = received_by_bot(live_server_url, identity)
    events = [b["message"].get("val") for b in bodies if b["message"].get("type") == "event"]
    assert events[-2:] == ["SESSION_CLOSURE", "ON_CONNECT"]
    page.reload()
    wait_for_bot(page, "demo bot")
    assert "the old topic" not in page.locator("[data-kc-log]").inner_text()
    assert "session has ended" not in page.locator("[data-kc-log]").inner_text()


def test_the_transcript_download_holds_the_users_own_conversation_only(
    new_context: Any, live_server_url: str
) -> None:
    other, _ = open_chat(new_context, live_server_url)
    send(other, "someone else's words")
    page, _ = open_chat(new_context, live_server_url)
    say(page, "my own words")
    wait_for_bot(page, "my own words")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download transcript").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert "You: my own words" in text
    assert "Demo bot: " in text
    assert "someone else's words" not in text


def test_a_tab_coming_back_into_view_retries_at_once_instead_of_waiting_out_its_back_off(
    new_context: Any, live_server_url: str
) -> None:
    page, identity = open_chat(new_context, live_server_url)
    fail_sends(page, lambda route: route.abort("connectionreset"))
    say(page, "after the tunnel")
    # Failures for long enough that the next retry is seconds away.
    page.wait_for_timeout(7000)
    page.unroute("**/api/v1/messages")
    back = time.monotonic()
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.locator(".kc-role-user[data-kc-id]", has_text="after the tunnel").wait_for(timeout=10_000)
    assert time.monotonic() - back < 1.5
    assert times_said(live_server_url, identity, "after the tunnel") == 1
