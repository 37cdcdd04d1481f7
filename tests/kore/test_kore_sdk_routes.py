"""The Kore-compatible routes (/kore/) that Kore's Web SDK calls, over real loopback HTTP
against the relay pointed at the embedded emulator, in the shapes the SDK reads them
(kore-web-sdk's `kore-bot-sdk-client.js`): 200 with `_v: "v2"` and a `data` list (V1:
`text` as a list), stable `messageId`s, a pollId while the bot may still speak, polls
answered at once, history from our store, and Digital Forms as a signed form link.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.forms.test_forms import data, valid
from tests.relay_helpers import emulator_record, relay_server, sent_messages, utterance
from webclient.emulator.demo_bot import WELCOME

GREETING = "Hello! Nice to meet you."
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class DemoBot:
    slug: str
    bot_id: str
    client_id: str
    version: int
    instance: str


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, DemoBot]]]:
    server = relay_server(tmp_path_factory.mktemp("kore-sdk") / "db.sqlite3")
    server.migrate()
    code = (
        "import json\n"
        "from webclient.models import Bot\n"
        "print(json.dumps([[b.slug, b.bot_id, b.client_id, b.api_version, b.hook_instance_id]"
        " for b in Bot.objects.all()]))"
    )
    bots = {row[0]: DemoBot(*row) for row in json.loads(server.shell(code))}
    server.start()
    yield server.url, bots
    server.stop()


class SdkUser:
    """One user of one bot, calling as the SDK does: STS by clientId, then /kore/ routes."""

    def __init__(self, base_url: str, bot: DemoBot, identity: str | None = None) -> None:
        self.base_url, self.bot = base_url, bot
        self.identity = identity or f"sdk-{uuid.uuid4().hex[:12]}@example.com"
        self.http = httpx.Client(base_url=base_url, timeout=30)
        # The SDK's STS call: a form POST; the clientSecret is ignored.
        answer = self.http.post(
            "/api/users/sts",
            data={
                "clientId": bot.client_id,
                "clientSecret": "anything",
                "identity": self.identity,
                "aud": "",
                "isAnonymous": "false",
            },
        )
        answer.raise_for_status()
        self.token = answer.json()["jwt"]
        self.http.headers["Authorization"] = f"bearer {self.token}"

    @property
    def webhook(self) -> str:
        base = "/kore/chatbot/hooks/" if self.bot.version == 1 else "/kore/chatbot/v2/webhook/"
        instance = f"/hookInstance/{self.bot.instance}" if self.bot.instance else ""
        return f"{base}{self.bot.bot_id}{instance}"

    def send(self, message: dict[str, Any], new: bool = False) -> httpx.Response:
        body = {
            "session": {"new": new},
            "message": message,
            "from": {"id": self.identity, "userInfo": {}},
            "to": {"id": "Kore.ai", "groupInfo": {"id": "", "name": ""}},
        }
        # The SDK's own bytes: the same body again is how its retry looks.
        return self.http.post(self.webhook, content=json.dumps(body), headers=JSON)

    def say(self, text: str) -> httpx.Response:
        message = {"type": "text", "val": text} if self.bot.version == 2 else {"text": text}
        return self.send(message)

    def poll(self, poll_id: str) -> httpx.Response:
        return self.http.get(f"/kore/chatbot/v2/webhook/{self.bot.bot_id}/poll/{poll_id}")

    def entries(self, answer: dict[str, Any]) -> list[dict[str, Any]]:
        return list(answer["data"] if answer.get("_v") == "v2" else answer["text"])

    def until(self, answer: dict[str, Any], done: Any, timeout: float = 20) -> list[dict[str, Any]]:
        """Everything the SDK would show, following the pollId chain as it does, until
        `done(entries)` holds."""
        shown = self.entries(answer)
        deadline = time.monotonic() + timeout
        while not done(shown):
            assert "pollId" in answer, answer
            assert time.monotonic() < deadline, shown
            polled = self.poll(answer["pollId"])
            assert polled.status_code == 200, polled.text
            answer = polled.json()
            assert answer["_v"] == "v2" and isinstance(answer["data"], list)
            shown += answer["data"]
        return shown


def vals(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["val"] for entry in entries]


def says(text: str) -> Any:
    return lambda entries: any(text in entry["val"] for entry in entries)


MODES = ["demo", "demo-v1-sync", "demo-v1-async", "demo-v2-async"]


@pytest.mark.parametrize("slug", MODES)
def test_a_text_is_answered_in_kores_shape_and_forwarded_once(
    relay: tuple[str, dict[str, DemoBot]], slug: str
) -> None:
    base_url, bots = relay
    user = SdkUser(base_url, bots[slug])
    answer = user.say("hello")
    assert answer.status_code == 200
    body = answer.json()
    if user.bot.version == 2:
        assert body["_v"] == "v2" and isinstance(body["data"], list)
    else:
        # The SDK's V1 reader wants `text` as a list.
        assert isinstance(body["text"], list)
    shown = user.until(body, says(GREETING))
    assert vals(shown) == [GREETING]
    assert shown[0]["messageId"].startswith("ms-")
    record = emulator_record(base_url, user.identity, wait=1)
    assert [utterance(m) for m in sent_messages(record)] == ["hello"]


def test_a_sync_v2_answer_comes_with_the_send_itself(
    relay: tuple[str, dict[str, DemoBot]],
) -> None:
    base_url, bots = relay
    user = SdkUser(base_url, bots["demo"])
    body = user.say("hello").json()
    assert vals(body["data"]) == [GREETING]


def test_the_welcome_of_a_v2_bot_comes_from_on_connect_as_plain_text(
    relay: tuple[str, dict[str, DemoBot]],
) -> None:
    base_url, bots = relay
    user = SdkUser(base_url, bots["demo"])
    body = user.send({"type": "event", "val": "ON_CONNECT"}, new=True).json()
    assert vals(user.until(body, says(WELCOME))) == [WELCOME]


def test_a_v1_bot_gets_no_on_connect_and_the_sdk_gets_its_welcome_text(
    relay: tuple[str, dict[str, DemoBot]],
) -> None:
    base_url, bots = relay
    user = SdkUser(base_url, bots["demo-v1-sync"])
    body = user.send({"type": "event", "val": "ON_CONNECT"}, new=True).json()
    assert vals(body["text"]) == [WELCOME]
    user.say("hello")
    record = emulator_record(base_url, user.identity)
    assert [utterance(m) for m in sent_messages(record)] == ["hello"]


def test_a_send_the_sdk_retries_is_forwarded_once_and_answered_alike(
    relay: tuple[str, dict[str, DemoBot]],
) -> None:
    base_url, bots = relay
    user = SdkUser(base_url, bots["demo"])
    first = user.say("hello").json()
    again = user.say("hello").json()
    assert [e["messageId"] for e in again["data"]] == [e["messageId"] for e in first["data"]]
    record = emulator_record(base_url, user.identity)
    assert [utterance(m) for m in sent_messages(record)] == ["hello"]


def test_a_poll_chain_brings_every_part_once(
    relay: tuple[str, dict[str, DemoBot]],
) -> None:
    base_url, bots = relay
    user = SdkUser(base_url, bots["demo"])
    body = user.say("slow 2").json()
    shown = user.until(body, says("Done after 2 s."))
    parts = ("Working on it", "Halfway there", "Done after 2 s.")
    assert [[part in val for val in vals(shown)].count(True) for part in parts] == [1, 1, 1]
    assert len({e["messageId"] for e in shown}) == len(shown) == 3


@pytest.mark.parametrize("slug", ["demo", "demo-v2-async"])
def test_an_idle_poll_is_answered_at_once_with_nothing_and_a_new_poll_id(
    relay: tuple[str, dict[str, DemoBot]], slug: str
) -> None:
    base_url, bots = relay
    user = SdkUser(base_url, bots[slug])
    body = user.say("hello").json()
    user.until(body, says(GREETING))
    started = time.monotonic()
    answer = user.poll(body["pollId"])
    # Never held: the SDK's queue has one request in flight, and its sends wait behind.
    assert time.monotonic() - started < 1
    assert answer.status_code == 200
    idle = answer.json()
    assert idle["_v"] == "v2" and idle["data"] == []
    assert isinstance(idle["pollId"], str)


def test_a_later_send_ends_the_older_poll_chain_after_what_came_before_it(
    relay: tuple[str, dict[str, DemoBot]],
) -> None:
    base_url, bots = relay
    user = SdkUser(base_url, bots["demo"])
    first = user.say("hello").json()
    assert vals(first["data"]) == [GREETING]
    second = user.say("show button").json()
    # The SDK keeps polling with the first chain's pollId: it ends, and repeats nothing.
    older = user.poll(first["pollId"]).json()
    assert older == {"_v": "v2", "data": []}
    newer = user.poll(second["pollId"]).json()
    assert "pollId" in newer


def test_a_forged_or_foreign_poll_id_is_refused_as_kore_does(
    relay: tuple[str, dict[str, DemoBot]],
) -> None:
    base_url, bots = relay
    alice, bob = SdkUser(base_url, bots["demo"]), SdkUser(base_url, bots["demo"])
    body = alice.say("slow 1").json()
    assert "pollId" in body
    assert bob.poll(body["pollId"]).status_code == 400
    forged = bob.poll("eyJjIjoxLCJhIjowfQ:forged:sig")
    assert forged.status_code == 400
    assert forged.json() == {"errors": [{"msg": "No data found", "code": 400}]}


def test_the_routes_need_the_token_and_the_tokens_own_bot(
    relay: tuple[str, dict[str, DemoBot]],
) -> None:
    base_url, bots = relay
    user = SdkUser(base_url, bots["demo"])
    anonymous = httpx.post(f"{base_url}{user.webhook}", json={"message": {"text": "hi"}})
    assert anonymous.status_code == 401
    assert "errors" in anonymous.json()
    other = bots["demo-v1-sync"].bot_id
    assert user.http.post(f"/kore/chatbot/v2/webhook/{other}", json={}).status_code == 404
    assert user.http.get(f"/kore/api/botmeta/{other}").status_code == 404
    bad = user.http.post(user.webhook, json={"message": {"type": "image", "val": "x"}})
    assert bad.status_code == 400


def test_botmeta_answers_the_icon_the_sdk_reads(
    relay: tuple[str, dict[str, DemoBot]],
) -> None:
    base_url, bots = relay
    user = SdkUser(base_url, bots["demo"])
    meta = user.http.get(f"/kore/api/botmeta/{user.bot.bot_id}").json()
    assert meta["_id"] == user.bot.bot_id
    assert meta["icon"].startswith("data:image/svg+xml")


def test_chat_history_comes_from_our_store_newest_first(
    relay: tuple[str, dict[str, DemoBot]],
) -> None:
    base_url, bots = relay
    user = SdkUser(base_url, bots["demo"])
    user.send({"type": "event", "val": "ON_CONNECT"}, new=True)
    user.say("hello")
    page = user.http.get(
        f"/kore/api/chathistory/{user.bot.bot_id}/ivr", params={"botId": user.bot.bot_id}
    ).json()
    shown = [
        (m["type"], m["components"][0]["data"]["text"], m["_id"][:3]) for m in page["messages"]
    ]
    assert shown == [
        ("outgoing", GREETING, "ms-"),
        ("incoming", "hello", "ms-"),
        ("outgoing", WELCOME, "ms-"),
    ]
    assert page["moreAvailable"] is False
    older = user.http.get(
        f"/kore/api/chathistory/{user.bot.bot_id}/ivr", params={"offset": 1, "limit": 1}
    ).json()
    assert [m["_id"] for m in older["messages"]] == [page["messages"][1]["_id"]]
    assert older["moreAvailable"] is True


@pytest.mark.parametrize("slug", MODES)
def test_a_digital_form_is_offered_as_a_signed_link_and_its_submission_goes_upstream(
    relay: tuple[str, dict[str, DemoBot]], slug: str
) -> None:
    base_url, bots = relay
    user = SdkUser(base_url, bots[slug])
    body = user.say("form").json()
    shown = user.until(body, lambda es: any("formLink" in e["val"] for e in es))
    template = json.loads(next(e["val"] for e in shown if "formLink" in e["val"]))
    form = template["payload"]["formData"]
    assert form["renderType"] == "inline"
    link = urlsplit(form["formLink"])
    assert f"{link.scheme}://{link.netloc}" == base_url
    assert link.path.startswith("/kore/forms/")

    page = httpx.get(form["formLink"])
    assert page.status_code == 200
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in page.headers
    assert 'data-kc-form-id="' in page.text
    # A link is the credential: another form id, a forged link, another origin are refused.
    forged = httpx.post(base_url + link.path + "x", json={})
    assert forged.status_code == 404
    cross = httpx.post(
        form["formLink"],
        json={"formData": {"formId": form["formId"], "data": data(valid())}},
        headers={"Origin": "https://elsewhere.example"},
    )
    assert cross.status_code == 403

    submitted = httpx.post(
        form["formLink"], json={"formData": {"formId": form["formId"], "data": data(valid())}}
    )
    assert submitted.status_code == 200, submitted.text
    assert "Jane Doe" in submitted.json()["html"]
    # Opened again (the SDK shows the link again after a reload): the summary, no form.
    again = httpx.get(form["formLink"])
    assert "Jane Doe" in again.text and "data-kc-form-id" not in again.text
    # The bot's answer to the form reaches the SDK through its poll chain.
    # The chain from the send answers everything after it: here the bot's thanks.
    user.until({"_v": "v2", "data": [], "pollId": body["pollId"]}, says("Thanks,"))
    record = emulator_record(base_url, user.identity, wait=1)
    forwarded = sent_messages(record)
    assert len(forwarded) == 2
    assert forwarded[1].get("formData", forwarded[1].get("val"))["formId"] == form["formId"]


def test_cors_follows_the_bots_allowed_origins(
    relay: tuple[str, dict[str, DemoBot]],
) -> None:
    base_url, bots = relay
    user = SdkUser(base_url, bots["demo"])
    # A demo bot on the embedded emulator may be embedded from any loopback page.
    allowed = user.http.options(
        user.webhook,
        headers={
            "Origin": "http://localhost:9",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert allowed.headers.get("Access-Control-Allow-Origin") == "http://localhost:9"
    refused = user.http.post(
        user.webhook,
        content=json.dumps({"message": {"type": "text", "val": "hi"}}),
        headers={**JSON, "Origin": "https://elsewhere.example"},
    )
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused.headers
