"""The widget keeps each identity's conversation to itself (issue 10, finding 3)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from tests.e2e.widget import (
    goto_chat,
    message_value,
    open_embedded_chat,
    open_host,
    open_widget,
    received_by_bot,
    received_text,
    record_sts,
    say,
    send,
    state,
    stored_keys,
    wait_for_welcome,
)

pytestmark = pytest.mark.browser


def token_subject(jwt: str) -> str:
    payload = jwt.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


def stored_state(page_or_frame: Any, key: str) -> dict[str, Any]:
    return dict(page_or_frame.evaluate("k => JSON.parse(localStorage.getItem(k))", key))


def test_a_page_vouching_for_bob_never_shows_alices_conversation_nor_uses_her_token(
    new_context: Any, live_server_url: str
) -> None:
    alice, bob = f"alice-{uuid.uuid4()}", f"bob-{uuid.uuid4()}"
    page = open_widget(new_context, live_server_url, f"/?identity={alice}")
    send(page, "alice's private note")
    alice_jwt = stored_state(page, f"kore-chat:demo:id:{alice}")["jwt"]

    asked = record_sts(page.context)
    authorizations: list[str] = []
    page.context.on(
        "request",
        lambda r: (
            authorizations.append(r.headers.get("authorization", ""))
            if "/api/v1/messages" in r.url and bob in r.headers.get("referer", "")
            else None
        ),
    )
    goto_chat(page, f"{live_server_url}/?identity={bob}")

    assert "alice's private note" not in page.locator("[data-kc-log]").inner_text()
    assert [body.get("identity") for body in asked] == [bob]
    assert authorizations and f"Bearer {alice_jwt}" not in authorizations
    assert stored_keys(page) == [f"kore-chat:demo:id:{bob}"]
    assert token_subject(stored_state(page, f"kore-chat:demo:id:{bob}")["jwt"]) == bob
    assert not any(
        message_value(b) == "alice's private note" for b in received_by_bot(live_server_url, bob)
    )


def test_a_token_is_never_used_for_another_bot(new_context: Any, live_server_url: str) -> None:
    page = open_widget(new_context, live_server_url, "/?bot=demo")
    demo_jwt = stored_state(page, "kore-chat:demo:browser")["jwt"]
    used: list[str] = []
    page.context.on(
        "request",
        lambda r: (
            used.append(r.headers.get("authorization", "")) if "/api/v1/messages" in r.url else None
        ),
    )
    goto_chat(page, f"{live_server_url}/?bot=demo-v2-async")
    other_jwt = stored_state(page, "kore-chat:demo-v2-async:browser")["jwt"]
    assert other_jwt != demo_jwt
    assert used and f"Bearer {demo_jwt}" not in used


def test_the_embed_hands_the_identity_to_its_frame_by_postmessage_never_in_a_url(
    new_context: Any, live_server_url: str, host_origin: str
) -> None:
    carol = f"carol-{uuid.uuid4()}"
    context = new_context()
    urls: list[str] = []
    context.on("request", lambda r: urls.append(r.url))
    asked = record_sts(context)
    page = open_host(
        context, host_origin, live_server_url, identity=carol, identity_hash="signed-by-the-shop"
    )
    chat = open_embedded_chat(page)

    assert carol not in (page.locator("iframe").get_attribute("src") or "")
    assert not [url for url in urls if carol in url]
    assert asked[0]["identity"] == carol
    assert asked[0]["identityHash"] == "signed-by-the-shop"
    say(chat, "hello from the shop")
    received_text(live_server_url, carol, "hello from the shop")


def test_switching_identity_restarts_from_a_fresh_token_without_the_previous_messages(
    new_context: Any, live_server_url: str, host_origin: str
) -> None:
    carol, dave = f"carol-{uuid.uuid4()}", f"dave-{uuid.uuid4()}"
    context = new_context()
    page = open_host(context, host_origin, live_server_url, identity=carol, identity_hash="h1")
    chat = open_embedded_chat(page)
    send(chat, "carol's order number")

    asked = record_sts(context)
    page.evaluate("([who, hash]) => KoreChat.identify(who, hash)", [dave, "h2"])
    chat = page.frame_locator("iframe")
    wait_for_welcome(chat)

    assert "carol's order number" not in chat.locator("[data-kc-log]").inner_text()
    assert [body["identity"] for body in asked] == [dave]
    frame = next(f for f in page.frames if f.url.startswith(live_server_url))
    assert stored_keys(frame) == [f"kore-chat:demo:id:{dave}"]
    assert token_subject(stored_state(frame, f"kore-chat:demo:id:{dave}")["jwt"]) == dave


def test_the_frame_takes_an_identity_only_from_an_origin_allowed_to_embed_it(
    new_context: Any, live_server_url: str
) -> None:
    context = new_context()
    asked = record_sts(context)
    page = context.new_page()
    page.goto(f"{live_server_url}/?embed=1&bot=demo")
    page.evaluate(
        """() => window.dispatchEvent(new MessageEvent("message", {origin: "https://evil.example",
            source: window.parent, data: {source: "kore-chat-embed", type: "init",
            identity: "mallory"}}))"""
    )
    page.wait_for_timeout(1500)
    assert asked == []
    assert state(page) == "connecting"
    # The same message from an allowed origin (here the relay's own) starts the chat.
    page.evaluate(
        """() => window.postMessage({source: "kore-chat-embed", type: "init",
            identity: "trusted-" + Date.now()}, location.origin)"""
    )
    wait_for_welcome(page)
    assert [body["identity"].split("-")[0] for body in asked] == ["trusted"]


def test_the_state_of_earlier_versions_keyed_by_bot_only_is_never_used(
    new_context: Any, live_server_url: str
) -> None:
    context = new_context()
    page = context.new_page()
    page.goto(f"{live_server_url}/healthz")
    page.evaluate(
        "localStorage.setItem('kore-chat:demo', JSON.stringify({jwt: 'someone-elses',"
        " identity: 'someone-else', expiresAt: '2999-01-01T00:00:00Z'}))"
    )
    asked = record_sts(context)
    goto_chat(page, f"{live_server_url}/?identity=frank-{uuid.uuid4()}")
    assert len(asked) == 1
    assert page.evaluate("localStorage.getItem('kore-chat:demo')") is None
