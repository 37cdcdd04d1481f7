"""The embedded Kore WebHook emulator, called in-process: auth, every sync mode, polls, the
demo bot's script, the Web SDK's reads and the test controls."""

from __future__ import annotations

import base64
import html
import json
import re
import time
from typing import Any

import jwt
import pytest
from django.test import Client

from tests.waiting import wait_until
from webclient.emulator import demo_bot
from webclient.emulator.auth import JTI_REPLAY, JTI_TOO_LONG
from webclient.emulator.faults import injector
from webclient.emulator.models import EmulatedWebhook
from webclient.emulator.state import state
from webclient.examples import template_example, template_names

pytestmark = pytest.mark.django_db
TRACE = re.compile(r"RTM-TRACE-[A-Z0-9]{9}$")
USER = "user-42"
FORM = {
    "formDef": {
        "_id": "frm-1",
        "name": "demo",
        "components": [
            {
                "_id": "fct-section",
                "type": "section",
                "components": [
                    {"_id": "fct-name", "type": "textField", "metaData": {"displayName": "Name"}},
                ],
            },
            {"_id": "fct-submit", "type": "button", "metaData": {"buttonAction": "submit"}},
            {"_id": "fct-cancel", "type": "button", "metaData": {"buttonAction": "cancel"}},
        ],
    },
    "formInitialization": {"valueMap": {"name": "Ada"}},
}


def channel(version: int, is_async: bool = False) -> EmulatedWebhook:
    return EmulatedWebhook.objects.get(version=version, is_async=is_async)


def token(webhook: EmulatedWebhook, user: str | None = USER, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"appId": webhook.client_id, "sub": user, "iat": now, "exp": now + 300}
    if user:
        claims["userIdentity"] = user
    secret = overrides.pop("secret", webhook.client_secret)
    algorithm = overrides.pop("algorithm", "HS256")
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm)


def url(webhook: EmulatedWebhook) -> str:
    base = "chatbot/hooks" if webhook.version == 1 else "chatbot/v2/webhook"
    instance = f"/hookInstance/{webhook.instance_id}" if webhook.instance_id else ""
    return f"/emulator/{base}/{webhook.bot_id}{instance}"


def body(webhook: EmulatedWebhook, text: str, user: str = USER) -> dict[str, Any]:
    message = {"text": text} if webhook.version == 1 else {"type": "text", "val": text}
    return {"session": {"new": False}, "message": message, "from": {"id": user}}


def send(
    webhook: EmulatedWebhook,
    payload: dict[str, Any] | str,
    bearer: str | None = None,
    scheme: str = "bearer",
) -> Any:
    headers = {"Authorization": f"{scheme} {bearer or token(webhook)}"}
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return Client().post(url(webhook), data, content_type="application/json", headers=headers)


def say(webhook: EmulatedWebhook, text: str) -> Any:
    return send(webhook, body(webhook, text))


def poll(webhook: EmulatedWebhook, poll_id: str) -> Any:
    headers = {"Authorization": f"bearer {token(webhook)}"}
    return Client().get(
        f"/emulator/chatbot/v2/webhook/{webhook.bot_id}/poll/{poll_id}", headers=headers
    )


def texts(answer: dict[str, Any]) -> list[Any]:
    return [item["val"] for item in answer["data"]]


@pytest.fixture(autouse=True)
def fresh_emulator() -> Any:
    state.reset()
    injector.clear()
    yield
    injector.clear()


def assert_invalid_token(response: Any, msg: str = "Invalid Access token") -> None:
    assert response.status_code == 401
    answer = response.json()
    assert answer["errors"] == [{"msg": msg, "code": 401}]
    if msg == "Invalid Access token":
        assert answer["_v"] == "v2"
        assert TRACE.match(answer["_t"])
    else:
        # Kore's jti refusals are shown as `{"errors": […]}` alone.
        assert set(answer) == {"errors"}


# Authentication


def test_it_rejects_a_call_without_token() -> None:
    webhook = channel(2)
    response = Client().post(url(webhook), body(webhook, "hi"), content_type="application/json")
    assert_invalid_token(response)


def test_it_rejects_a_token_signed_with_another_secret() -> None:
    webhook = channel(2)
    assert_invalid_token(
        send(
            webhook,
            body(webhook, "hi"),
            token(webhook, secret="another-secret-of-the-same-length-0123456789"),
        )
    )


def test_it_rejects_expired_token() -> None:
    webhook = channel(2)
    expired = token(webhook, exp=int(time.time()) - 5)
    assert_invalid_token(send(webhook, body(webhook, "hi"), expired))


def test_it_rejects_a_token_without_exp() -> None:
    webhook = channel(2)
    assert_invalid_token(send(webhook, body(webhook, "hi"), token(webhook, exp=None)))


def test_it_rejects_a_token_whose_user_identity_is_not_the_sender() -> None:
    webhook = channel(2)
    assert_invalid_token(send(webhook, body(webhook, "hi", user="someone-else"), token(webhook)))


def test_it_rejects_an_unsigned_token() -> None:
    webhook = channel(2)
    claims = {"appId": webhook.client_id, "exp": int(time.time()) + 60}

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
    assert_invalid_token(send(webhook, body(webhook, "hi"), unsigned))


def test_it_rejects_a_jti_token_living_longer_than_an_hour() -> None:
    webhook = channel(2)
    now = int(time.time())
    long_lived = token(webhook, jti="j-1", iat=now, exp=now + 7200)
    # Kore's own wording (sdk-security.md, "jti Validations").
    assert_invalid_token(send(webhook, body(webhook, "hi"), long_lived), JTI_TOO_LONG)


def test_a_jti_is_accepted_once_and_a_replay_is_refused_in_kores_words() -> None:
    webhook = channel(2)
    once = token(webhook, jti="j-replayed")
    assert send(webhook, body(webhook, "hi"), once).status_code == 200
    assert_invalid_token(send(webhook, body(webhook, "hi"), once), JTI_REPLAY)


def test_an_app_that_enforces_jti_refuses_a_token_without_one() -> None:
    webhook = channel(2)
    webhook.enforce_jti = True
    webhook.save()
    assert_invalid_token(send(webhook, body(webhook, "hi"), token(webhook)))
    assert send(webhook, body(webhook, "hi"), token(webhook, jti="j-fresh")).status_code == 200


def test_it_accepts_legacy_iss_and_capitalised_bearer() -> None:
    webhook = channel(2)
    legacy = token(webhook, appId=None, iss=webhook.client_id)
    response = send(webhook, body(webhook, "hi"), legacy, scheme="Bearer")
    assert response.status_code == 200


def test_an_app_checks_the_signing_algorithm_it_was_set_to() -> None:
    webhook = channel(2)
    hs512 = token(webhook, algorithm="HS512")
    assert_invalid_token(send(webhook, body(webhook, "hi"), hs512))
    webhook.jwt_algorithm = "HS512"
    webhook.save()
    assert send(webhook, body(webhook, "hi"), hs512).status_code == 200
    assert_invalid_token(send(webhook, body(webhook, "hi"), token(webhook)))


def test_it_accepts_a_token_without_user_identity_for_any_sender() -> None:
    webhook = channel(2)
    response = send(webhook, body(webhook, "hi", user="anyone"), token(webhook, user=None))
    assert response.status_code == 200


# Invalid requests


@pytest.mark.parametrize(
    ("version", "payload"),
    [
        (1, {"message": {"attachments": []}, "from": {"id": USER}}),
        (2, {"from": {"id": USER}}),
        (2, {"message": {"type": "text", "val": "hi"}, "from": {}}),
        (2, {"message": {"type": "shout", "val": "hi"}, "from": {"id": USER}}),
        (2, "not json"),
    ],
)
def test_it_answers_invalid_request_payload_to_a_malformed_body(version: int, payload: Any) -> None:
    response = send(channel(version), payload)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"msg": "Invalid Request Payload", "code": 400}]


def test_it_answers_404_for_an_unknown_bot_or_the_other_versions_endpoint() -> None:
    webhook = channel(2)
    headers = {"Authorization": f"bearer {token(webhook)}"}
    for path in (
        "/emulator/chatbot/v2/webhook/st-unknown",
        f"/emulator/chatbot/hooks/{webhook.bot_id}",
        f"/emulator/chatbot/v2/webhook/{webhook.bot_id}/hookInstance/ivrInst-nope",
    ):
        response = Client().post(
            path, body(webhook, "hi"), content_type="application/json", headers=headers
        )
        assert response.status_code == 404


# Answer shapes per mode


def test_v1_sync_answers_text_with_task_end_fields() -> None:
    answer = say(channel(1), "hello").json()
    assert answer["text"] == "Hello! Nice to meet you."
    assert answer["endOfTask"] is True
    assert answer["endReason"] == "Fulfilled"
    assert answer["completedTaskName"] == "Greeting"
    assert answer["completedTaskId"].startswith("dg-")


def test_v2_sync_answers_data_items_with_ids_and_timestamps() -> None:
    answer = say(channel(2), "good morning").json()
    assert answer["to"] == USER
    assert answer["from"] == channel(2).bot_id
    assert answer["_v"] == "v2"
    [item] = answer["data"]
    assert item["type"] == "text"
    assert item["val"] == "You said: good morning"
    assert re.fullmatch(r"ms-[0-9a-f-]{36}", item["messageId"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", item["createdOn"])
    assert answer["endOfTask"] is True


def test_v2_second_hook_instance_is_reached_under_its_own_path() -> None:
    webhook = EmulatedWebhook.objects.exclude(instance_id="").get()
    assert "/hookInstance/ivrInst-" in url(webhook)
    response = say(webhook, "hello")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_a_postback_payload_is_handled_like_text() -> None:
    webhook = channel(2)
    payload = body(webhook, "")
    payload["message"] = {"type": "template", "val": {"title": "Say hi", "payload": "hello"}}
    assert texts(send(webhook, payload).json()) == ["Hello! Nice to meet you."]


# Events


def test_on_connect_answers_the_welcome_in_v2_and_is_refused_by_v1() -> None:
    # Kore's V1 table: events "Not supported", and message.text is required.
    event = {"session": {"new": True}, "message": {"type": "event", "val": "ON_CONNECT"}}
    v1_answer = send(channel(1), {**event, "from": {"id": USER}})
    assert v1_answer.status_code == 400
    assert v1_answer.json()["errors"] == [{"msg": "Invalid Request Payload", "code": 400}]
    v2_answer = send(channel(2), {**event, "from": {"id": USER}}).json()
    assert v2_answer["data"][0]["val"].startswith("Hi! I'm the demo bot.")


def test_session_closure_succeeds_once_then_is_ignored() -> None:
    webhook = channel(2)
    say(webhook, "hello")
    closure = {"message": {"type": "event", "val": "SESSION_CLOSURE"}, "from": {"id": USER}}
    first = send(webhook, closure).json()["data"][0]
    assert first["eventType"] == "SESSION_CLOSURE_SUCCESS"
    again = send(webhook, closure).json()["data"][0]
    assert again["eventType"] == "SESSION_CLOSURE_IGNORED"


def test_session_closure_answers_in_kores_documented_shape() -> None:
    webhook = channel(2)
    say(webhook, "hello")
    closure = {"message": {"type": "event", "val": "SESSION_CLOSURE"}, "from": {"id": USER}}
    (item,) = send(webhook, closure).json()["data"]
    assert set(item) == {"type", "val", "eventType", "description"}
    assert (item["type"], item["val"]) == ("event", "SESSION_CLOSURE")


def test_v1_refuses_session_closure_as_it_refuses_every_event() -> None:
    closure = {"message": {"type": "event", "val": "SESSION_CLOSURE"}, "from": {"id": USER}}
    assert send(channel(1), closure).status_code == 400


# The demo bot's script


def test_show_sends_the_template_as_an_escaped_json_string_in_v1_and_an_object_in_v2() -> None:
    v1_text = say(channel(1), "show button").json()["text"]
    assert "&quot;" in v1_text
    assert json.loads(html.unescape(v1_text)) == template_example("button")
    assert texts(say(channel(2), "show button").json()) == [template_example("button")]


def test_show_all_lists_the_template_types() -> None:
    [listing] = texts(say(channel(2), "show all").json())
    for template_type in template_names():
        assert template_type in listing


def test_the_demo_bots_own_help_texts_name_no_placeholder_in_angle_brackets() -> None:
    webhook = channel(2)
    replies = [
        reply
        for command in ("show all", "show nothing_like_it", "slow x", "fail x")
        for reply in texts(say(webhook, command).json())
    ]
    assert "show carousel" in replies[0]
    assert replies and not any("<" in reply or ">" in reply for reply in replies)


def test_show_of_an_unknown_type_says_so() -> None:
    [reply] = texts(say(channel(2), "show nothing_like_it").json())
    assert "no `nothing_like_it` template" in reply


def test_a_form_travels_at_the_top_level_beside_the_messages_as_kore_documents(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(demo_bot, "demo_form", lambda: FORM)
    v1_answer = say(channel(1), "form").json()
    assert v1_answer["form"] == FORM
    assert v1_answer["endOfTask"] is False
    v2_answer = say(channel(2), "form").json()
    assert v2_answer["form"] == FORM
    assert [item["val"] for item in v2_answer["data"]] == ["Please fill in the demo form."]


def test_a_channel_can_put_the_form_inside_the_data_item_instead(monkeypatch: Any) -> None:
    monkeypatch.setattr(demo_bot, "demo_form", lambda: FORM)
    webhook = channel(2)
    webhook.form_placement = "data"
    webhook.save()
    answer = say(webhook, "form").json()
    assert "form" not in answer
    [item] = answer["data"]
    assert item["val"]["form"] == FORM


def test_sdk_channel_answers_carry_the_form_as_a_link_when_asked_for(monkeypatch: Any) -> None:
    monkeypatch.setattr(demo_bot, "demo_form", lambda: FORM)
    webhook = channel(2)
    webhook.sdk_form_links = True
    webhook.save()
    webhook_only = say(webhook, "form").json()
    assert webhook_only["form"] == FORM
    asked = {**body(webhook, "form"), "preferredChannelForResponse": "rtm"}
    answer = send(webhook, asked).json()
    assert "form" not in answer
    link = answer["data"][1]["val"]
    assert link["payload"]["template_type"] == "iframe"
    assert link["payload"]["formData"]["formLink"].endswith("/emulator/forms/frm-1")


def test_a_form_submission_is_thanked_with_a_summary(monkeypatch: Any) -> None:
    monkeypatch.setattr(demo_bot, "demo_form", lambda: FORM)
    webhook = channel(2)
    data = [
        {"componentId": "fct-name", "input": "Ada"},
        {"componentId": "fct-submit", "input": "Submit"},
    ]
    payload = {
        "message": {"type": "formData", "val": {"formId": "frm-1", "data": data, "meta": {}}},
        "from": {"id": USER},
    }
    assert texts(send(webhook, payload).json()) == ["Thanks, Name: Ada."]
    v1 = channel(1)
    v1_payload = {"message": {"formData": {"formId": "frm-1", "data": data}}, "from": {"id": USER}}
    assert send(v1, v1_payload).json()["text"] == "Thanks, Name: Ada."


def test_the_cancel_button_cancels_the_form(monkeypatch: Any) -> None:
    monkeypatch.setattr(demo_bot, "demo_form", lambda: FORM)
    data = [{"componentId": "fct-cancel", "input": "Cancel"}]
    payload = {
        "message": {"type": "formData", "val": {"formId": "frm-1", "data": data}},
        "from": {"id": USER},
    }
    answer = send(channel(2), payload).json()
    assert texts(answer) == ["Form cancelled."]
    assert answer["endReason"] == "Cancelled"


@pytest.mark.parametrize("status", [401, 429, 500, 503, 504])
def test_fail_answers_that_upstream_status_with_the_documented_body(status: int) -> None:
    response = say(channel(2), f"fail {status}")
    assert response.status_code == status
    [error] = response.json()["errors"]
    assert error["code"] == status
    if status == 429:
        assert response["Retry-After"] == "1"
        assert error["msg"] == "Too Many requests"
    if status == 504:
        assert error["msg"] == "The request has been timed-out"


def test_v1_slow_answers_everything_after_the_wait() -> None:
    started = time.monotonic()
    answer = say(channel(1), "slow 1").json()
    assert time.monotonic() - started >= 1
    assert answer["text"] == ["Working on it, this takes 1 s…", "Halfway there…", "Done after 1 s."]


def test_v1_slow_beyond_the_sync_limit_times_out(settings: Any) -> None:
    settings.KORE_EMULATOR_SYNC_TIMEOUT = 0.3
    response = say(channel(1), "slow 1")
    assert response.status_code == 504
    assert response.json()["errors"][0]["msg"] == "The request has been timed-out"


def answered(body: dict[str, Any]) -> dict[str, Any]:
    """A poll's answer, or nothing while the platform still says Inprogress."""
    return {} if body.get("status") == "Inprogress" else body


def test_v2_polling_chain_goes_inprogress_then_answer_then_no_data_found() -> None:
    webhook = channel(2)
    first = say(webhook, "slow 1").json()
    assert texts(first) == ["Working on it, this takes 1 s…"]
    assert re.fullmatch(r"[0-9a-f]{32}", first["pollId"])
    assert "endOfTask" not in first

    pending = poll(webhook, first["pollId"]).json()
    assert pending == {"status": "Inprogress", "pollId": first["pollId"], "_v": "v2"}

    # Asked again until the work is halfway (each Inprogress answer keeps the pollId).
    halfway = wait_until(lambda: answered(poll(webhook, first["pollId"]).json()))
    assert texts(halfway) == ["Halfway there…"]
    assert halfway["pollId"] != first["pollId"]

    used = poll(webhook, first["pollId"])
    assert used.status_code == 400
    assert used.json()["errors"] == [{"msg": "No data found", "code": 400}]

    done = wait_until(lambda: answered(poll(webhook, halfway["pollId"]).json()))
    assert texts(done) == ["Done after 1 s."]
    assert "pollId" not in done
    assert done["endOfTask"] is True


def test_a_poll_needs_a_valid_token() -> None:
    webhook = channel(2)
    poll_id = say(webhook, "slow 1").json()["pollId"]
    response = Client().get(f"/emulator/chatbot/v2/webhook/{webhook.bot_id}/poll/{poll_id}")
    assert_invalid_token(response)


# Failure injection and the request record


def test_injected_failures_hit_the_next_calls_only_and_are_not_received() -> None:
    webhook = channel(2)
    injector.fail_next(webhook.bot_id, 503, count=2)
    assert say(webhook, "one").status_code == 503
    assert say(webhook, "one").status_code == 503
    assert say(webhook, "one").status_code == 200
    accepted = [r for r in state.requests(webhook.bot_id, USER) if r["status"] == 200]
    assert [r["body"]["message"]["val"] for r in accepted] == ["one"]


def test_control_endpoints_inject_failures_and_report_what_the_bot_got(settings: Any) -> None:
    settings.DEBUG = True
    webhook = channel(1)
    client = Client()
    injected = client.post(
        "/emulator/_control/fail-next",
        {"bot": webhook.bot_id, "status": 429, "retryAfter": 7},
        content_type="application/json",
    )
    assert injected.status_code == 200
    limited = say(webhook, "hello")
    assert limited.status_code == 429
    assert limited["Retry-After"] == "7"
    say(webhook, "hello")
    report = client.get(f"/emulator/_control/received?bot={webhook.bot_id}&user={USER}").json()
    assert report["received"] == [body(webhook, "hello")]
    assert [r["status"] for r in report["requests"]] == [429, 200]
    assert client.post("/emulator/_control/reset").status_code == 200
    assert client.get("/emulator/_control/received").json()["requests"] == []


def test_control_endpoints_do_not_exist_without_debug(settings: Any) -> None:
    settings.DEBUG = False
    assert Client().get("/emulator/_control/received").status_code == 404
    assert Client().post("/emulator/_control/reset").status_code == 404


@pytest.mark.parametrize(
    ("remote_addr", "forwarded"),
    [
        ("192.168.1.20", {}),
        ("10.0.0.7", {}),
        ("2001:db8::5", {}),
        ("::ffff:192.168.1.20", {}),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}),
        ("::1", {"Forwarded": "for=203.0.113.9"}),
    ],
)
def test_control_endpoints_answer_only_loopback_clients_even_in_debug(
    settings: Any, remote_addr: str, forwarded: dict[str, str]
) -> None:
    settings.DEBUG = True
    webhook = channel(2)
    say(webhook, "my account number is 12345")
    client = Client(headers=forwarded, REMOTE_ADDR=remote_addr)
    report = client.get(f"/emulator/_control/received?bot={webhook.bot_id}&user={USER}")
    assert report.status_code == 403
    assert b"12345" not in report.content
    refused = client.post(
        "/emulator/_control/fail-next",
        {"bot": webhook.bot_id, "status": 503},
        content_type="application/json",
    )
    assert refused.status_code == 403
    assert client.post("/emulator/_control/reset").status_code == 403
    assert say(webhook, "still here").status_code == 200
    assert len(state.requests(webhook.bot_id, USER)) == 2


@pytest.mark.parametrize("remote_addr", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_control_endpoints_answer_loopback_clients_in_debug(
    settings: Any, remote_addr: str
) -> None:
    settings.DEBUG = True
    assert Client(REMOTE_ADDR=remote_addr).get("/emulator/_control/received").status_code == 200


# The Kore Web SDK, unchanged


def sdk_body(text_or_message: str | dict[str, Any], version: int, new: bool = False) -> Any:
    if isinstance(text_or_message, dict):
        message = text_or_message
    elif version == 2:
        message = {"type": "text", "val": text_or_message}
    else:
        message = {"text": text_or_message}
    return {
        "session": {"new": new},
        "message": message,
        "from": {"id": USER, "userInfo": {"firstName": "", "lastName": "", "email": ""}},
        "to": {"id": "Kore.ai", "groupInfo": {"id": "", "name": ""}},
        "preferredChannelForResponse": "rtm",
    }


@pytest.mark.parametrize("version", [1, 2])
def test_it_accepts_the_web_sdk_requests_as_sent(version: int) -> None:
    webhook = channel(version)
    on_connect = sdk_body({"type": "event", "val": "ON_CONNECT"}, version, new=True)
    # V1 supports no events: Kore's Web SDK sends ON_CONNECT anyway and ignores the 400.
    assert send(webhook, on_connect).status_code == (200 if version == 2 else 400)
    assert send(webhook, sdk_body("hello", version)).status_code == 200


def test_botmeta_and_chathistory_answer_the_web_sdk() -> None:
    webhook = channel(2)
    send(webhook, sdk_body({"type": "event", "val": "ON_CONNECT"}, 2, new=True))
    send(webhook, sdk_body("hello", 2))
    # The SDK's transport sends a JSON content type even on GETs.
    headers = {"Authorization": f"bearer {token(webhook)}", "Content-Type": "application/json"}
    meta = Client().get(f"/emulator/api/botmeta/{webhook.bot_id}", headers=headers).json()
    assert meta["name"] == webhook.bot_name
    assert meta["icon"].startswith("data:image/svg+xml")

    history = (
        Client()
        .get(
            f"/emulator/api/chathistory/{webhook.bot_id}/ivr?botId={webhook.bot_id}&limit=2",
            headers=headers,
        )
        .json()
    )
    assert history["moreAvailable"] is True
    newest, older = history["messages"]
    assert newest["type"] == "outgoing"
    assert newest["components"] == [{"cT": "text", "data": {"text": "Hello! Nice to meet you."}}]
    assert older["type"] == "incoming"
    assert older["components"][0]["data"]["text"] == "hello"


def test_chathistory_rejects_a_bad_token_and_an_unknown_channel_type() -> None:
    webhook = channel(2)
    history = f"/emulator/api/chathistory/{webhook.bot_id}"
    assert_invalid_token(Client().get(f"{history}/ivr"))
    headers = {"Authorization": f"bearer {token(webhook)}"}
    assert Client().get(f"{history}/ivrInst-nope", headers=headers).status_code == 404
