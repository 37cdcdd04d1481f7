"""The relay against every variant of Kore's platform the emulator can be, over real HTTP.

Each variant is a webhook channel on the emulator and a bot on the relay, made as an operator
would: the channel as Kore's channel page configures it, the bot with what that page shows
(ids, secret, Kore's public JWK), the RSA key pair of an RS256/RS512 app made by the
operator (the public half given to the channel, the private half to the relay).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.client import ChatUser
from tests.liveserver import ROOT
from tests.relay_helpers import (
    emulator_record,
    final_history,
    has_bot_text,
    relay_server,
    texts,
)

GREETING = "Hello! Nice to meet you."

# slug -> (API version, mode, channel settings, bot settings)
VARIANTS: dict[str, tuple[int, str, dict[str, Any], dict[str, Any]]] = {
    # Every hardening at once: RS256, Enforce JTI (replays refused), JWE required; V2 polling.
    "hardened": (
        2,
        "sync",
        {"jwt_algorithm": "RS256", "enforce_jti": True, "jwe_enabled": True},
        {"jwt_algorithm": "RS256", "jwe_enabled": True},
    ),
    "rs512-oaep-gcm": (
        2,
        "sync",
        {"jwt_algorithm": "RS512", "jwe_enabled": True},
        {"jwt_algorithm": "RS512", "jwe_enabled": True, "jwe_alg": "RSA1_5", "jwe_enc": "A256GCM"},
    ),
    "hs512": (
        2,
        "sync",
        {"jwt_algorithm": "HS512", "enforce_jti": True},
        {"jwt_algorithm": "HS512"},
    ),
    "v2-async-named": (2, "async", {"callback_names_user": True}, {}),
    "v1-async-json-ack": (1, "async", {"v1_ack_body": "json"}, {}),
    "form-in-data": (2, "sync", {"form_placement": "data"}, {}),
    "sdk-form-links": (2, "sync", {"sdk_form_links": True}, {"preferred_channel": "rtm"}),
    "webhook-answers": (2, "sync", {"sdk_form_links": True}, {"preferred_channel": ""}),
}

SETUP = """
import json, os, secrets, uuid
from webclient.emulator.channels import jwe_keys_ensure, public_jwk
from webclient.emulator.models import EmulatedWebhook
from webclient.models import Bot
spec = json.loads(open(os.environ["KC_VARIANTS"]).read())
for slug, (version, mode, channel_settings, bot_settings) in spec.items():
    secret = secrets.token_urlsafe(32)
    channel = EmulatedWebhook(
        bot_id=f"st-{uuid.uuid4()}", bot_name=slug, client_id=f"cs-{uuid.uuid4()}",
        client_secret=secret, version=version, is_async=mode == "async",
        post_url=f"/hooks/kore/{slug}/cb-{slug}-0123456789/", **channel_settings,
    )
    if channel.jwt_algorithm.startswith("RS"):
        channel.jwt_public_key = os.environ["KC_PUBLIC_PEM"]
    if channel.jwe_enabled:
        jwe_keys_ensure(channel)
    channel.save()
    bot = Bot(
        slug=slug, name=slug, bot_id=channel.bot_id, client_id=channel.client_id,
        client_secret=secret, api_version=version, mode=mode,
        callback_secret=f"cb-{slug}-0123456789", identity_mode="trust_browser", **bot_settings,
    )
    if bot.jwt_algorithm.startswith("RS"):
        bot.jwt_private_key = os.environ["KC_PRIVATE_PEM"]
    if bot.jwe_enabled:
        bot.jwe_public_key = json.dumps(public_jwk(channel))
    bot.save()
"""


def rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("variants")
    server = relay_server(folder / "db.sqlite3")
    server.migrate()
    spec = folder / "variants.json"
    spec.write_text(json.dumps(VARIANTS))
    private, public = rsa_pair()
    env = {**server.env, "KC_VARIANTS": str(spec), "KC_PRIVATE_PEM": private}
    env["KC_PUBLIC_PEM"] = public
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETUP], cwd=ROOT, env=env, check=True
    )
    server.start()
    yield server.url
    server.stop()


def received(base_url: str, user: ChatUser, wait: float = 0) -> list[dict[str, Any]]:
    return list(emulator_record(base_url, user.identity, wait=wait)["requests"])


@pytest.mark.parametrize("bot", ["hardened", "rs512-oaep-gcm", "hs512"])
def test_a_hardened_app_accepts_every_call_of_a_poll_chain_each_with_a_fresh_token(
    base_url: str, bot: str
) -> None:
    user = ChatUser(base_url, bot)
    user.send(event="ON_CONNECT")
    final_history(user, has_bot_text("demo bot"))
    user.send(text="slow 1")
    history = final_history(user, has_bot_text("Done after 1 s."))
    assert texts(history)[-3:] == [
        "Working on it, this takes 1 s…",
        "Halfway there…",
        "Done after 1 s.",
    ]
    # Both POSTs were accepted (a replayed jti, a wrong signature or a plain JWT where JWE
    # is required would have been answered 401 and recorded so).
    assert [r["status"] for r in received(base_url, user)] == [200, 200]
    assert all(m["status"] == "sent" for m in history if m["role"] == "user")


def test_a_v2_async_channel_that_names_the_user_is_routed_by_its_recipient(base_url: str) -> None:
    first, second = ChatUser(base_url, "v2-async-named"), ChatUser(base_url, "v2-async-named")
    first.send(text="hello")
    second.send(text="hi")
    for user in (first, second):
        assert texts(final_history(user, has_bot_text(GREETING))) == [GREETING]


def test_a_v1_json_acknowledgement_is_an_accepted_forward_too(base_url: str) -> None:
    user = ChatUser(base_url, "v1-async-json-ack")
    user.send(text="hello")
    assert texts(final_history(user, has_bot_text(GREETING))) == [GREETING]


def test_a_form_inside_a_data_item_is_shown_as_a_form(base_url: str) -> None:
    user = ChatUser(base_url, "form-in-data")
    user.send(text="form")
    history = final_history(user, lambda ms: any(m["kind"] == "form" for m in ms))
    (form,) = [m for m in history if m["kind"] == "form"]
    assert "<form" in form["html"]


def test_sdk_channel_answers_bring_the_form_as_a_safe_link_button(base_url: str) -> None:
    user = ChatUser(base_url, "sdk-form-links")
    user.send(text="form")
    history = final_history(user, has_bot_text("Open the form"))
    (link,) = [m for m in history if "Open the form" in m["text"]]
    assert 'target="_blank" rel="noopener noreferrer"' in link["html"]
    assert "/emulator/forms/" in link["html"]
    assert "<iframe" not in link["html"]
    (request,) = received(base_url, user)
    assert request["body"]["preferredChannelForResponse"] == "rtm"


def test_a_bot_set_to_no_preferred_channel_gets_the_webhook_channels_own_form(
    base_url: str,
) -> None:
    user = ChatUser(base_url, "webhook-answers")
    user.send(text="form")
    history = final_history(user, lambda ms: any(m["kind"] == "form" for m in ms))
    assert any(m["kind"] == "form" for m in history)
    (request,) = received(base_url, user)
    assert "preferredChannelForResponse" not in request["body"]


def test_the_widgets_language_goes_to_a_v2_bot_as_interactive_language(base_url: str) -> None:
    user = ChatUser(base_url, "hs512")
    user.send(text="hello", language="ar")
    final_history(user, has_bot_text(GREETING))
    (request,) = received(base_url, user)
    assert request["body"]["interactiveLanguage"] == "ar"


def test_an_attachment_goes_up_as_kores_documented_object_with_its_text(
    base_url: str, tmp_path: Path
) -> None:
    user = ChatUser(base_url, "hs512")
    upload = user.http.post(
        "/api/v1/attachments", files={"file": ("notes.txt", b"some notes\n", "text/plain")}
    )
    assert upload.status_code == 201, upload.text
    assert user.send(text="my notes", attachments=[upload.json()["id"]]).status_code == 202
    final_history(user, has_bot_text("You said"))
    (request,) = received(base_url, user)
    message = request["body"]["message"]
    (attachment,) = message["attachments"]
    assert set(attachment) == {"url", "fileName", "fileType"}
    assert (attachment["fileName"], attachment["fileType"]) == ("notes.txt", "txt")
    assert attachment["url"].startswith(base_url + "/attachments/")
    assert (message["type"], message["val"]) == ("text", "my notes")
