"""`manage.py emulator_channel`: the emulated platform's channel page on the command line.

A channel it creates answers on the webhook URL it prints, to tokens signed with the client
secret it prints; show, list, set and set-post-url change only what they are asked to, and
a wrong request is a CommandError that changes nothing."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from joserfc.jwk import RSAKey

from tests.liveserver import ROOT
from webclient.emulator.models import EmulatedWebhook

pytestmark = pytest.mark.django_db
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
USER = "ada"


def run(*args: str) -> str:
    out = StringIO()
    call_command("emulator_channel", *args, stdout=out)
    return out.getvalue()


def run_json(*args: str) -> Any:
    return json.loads(run(*args, "--json"))


def pem_pair(tmp_path: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = tmp_path / "public.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    private = tmp_path / "private.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return public, private


def say_hello(page: dict[str, Any]) -> Any:
    """`hello` to the printed webhook URL, signed with the printed credentials."""
    now = int(time.time())
    claims = {"appId": page["client_id"], "sub": USER, "iat": now, "exp": now + 300}
    token = jwt.encode(claims, page["client_secret"], "HS256")
    message = {"text": "hello"} if page["version"] == 1 else {"type": "text", "val": "hello"}
    body = {"session": {"new": False}, "message": message, "from": {"id": USER}}
    return Client().post(
        urlsplit(page["webhook_url"]).path,
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"bearer {token}"},
    )


def test_a_created_channel_answers_on_the_printed_url_to_the_printed_credentials() -> None:
    page = run_json("create", "--name", "Shop bot")
    assert re.fullmatch(f"st-{UUID}", page["bot_id"])
    assert re.fullmatch(f"cs-{UUID}", page["client_id"])
    assert len(base64.urlsafe_b64decode(page["client_secret"] + "=")) >= 32
    assert page["webhook_url"] == (
        f"{settings.SITE_ROOT}/emulator/chatbot/v2/webhook/{page['bot_id']}"
    )
    assert page["upstream_url"] == f"{settings.SITE_ROOT}/emulator"
    assert (page["version"], page["mode"], page["polling"], page["instance_id"]) == (
        2,
        "sync",
        True,
        "",
    )
    assert page["public_jwk"] is None
    stored = EmulatedWebhook.objects.get(bot_id=page["bot_id"])
    assert (stored.bot_name, stored.client_id, stored.client_secret) == (
        "Shop bot",
        page["client_id"],
        page["client_secret"],
    )
    answer = say_hello(page)
    assert answer.status_code == 200, answer.content
    assert answer.json()["data"][0]["val"] == "Hello! Nice to meet you."


def test_the_text_page_shows_what_kores_channel_page_shows() -> None:
    text = run("create", "--name", "Shop bot", "--version", "1", "--mode", "async")
    stored = EmulatedWebhook.objects.get(bot_name="Shop bot")
    for line in (
        f"Bot id:         {stored.bot_id}",
        f"Client id:      {stored.client_id}",
        f"Client secret:  {stored.client_secret}",
        f"Webhook URL:    {settings.SITE_ROOT}/emulator/chatbot/hooks/{stored.bot_id}",
        "Mode:           async",
        "POST_URL:       (not set; async channels need it)",
    ):
        assert line in text.splitlines() or any(
            row.startswith(line) for row in text.splitlines()
        ), (line, text)
    assert run("show", stored.bot_id) == text


def test_a_further_hook_instance_shares_the_bot_id_with_its_own_app() -> None:
    first = run_json("create", "--name", "Shop bot", "--version", "1")
    second = run_json(
        "create", "--name", "Shop bot (async)", "--instance", "--bot-id", first["bot_id"]
    )
    assert second["bot_id"] == first["bot_id"]
    assert re.fullmatch(f"ivrInst-{UUID}", second["instance_id"])
    assert second["client_id"] != first["client_id"]
    assert second["webhook_url"].endswith(
        f"/chatbot/v2/webhook/{first['bot_id']}/hookInstance/{second['instance_id']}"
    )
    assert say_hello(second).status_code == 200
    assert run_json("show", first["bot_id"])["client_id"] == first["client_id"]
    assert run_json("show", first["bot_id"], "--instance", second["instance_id"]) == second


def test_jwe_shows_the_channels_public_jwk_under_the_client_secret() -> None:
    page = run_json("create", "--name", "Sealed", "--jwe")
    stored = EmulatedWebhook.objects.get(bot_id=page["bot_id"])
    private = RSAKey.import_key(stored.jwe_private_key).as_dict(private=False)
    assert page["public_jwk"] == {
        "kty": "RSA",
        "e": private["e"],
        "n": private["n"],
        "kid": stored.jwe_kid,
    }
    assert stored.jwe_kid.startswith("k-")
    lines = run("show", page["bot_id"]).splitlines()
    secret_at = next(i for i, line in enumerate(lines) if line.startswith("Client secret:"))
    assert lines[secret_at + 1].startswith("Public key (JWE)")
    assert f'"kid": "{stored.jwe_kid}"' in "\n".join(lines[secret_at + 2 : secret_at + 8])
    # Off, the key pair is kept: on again, the platform shows the same public key.
    assert run_json("set", page["bot_id"], "--no-jwe")["public_jwk"] is None
    assert run_json("set", page["bot_id"], "--jwe")["public_jwk"]["kid"] == stored.jwe_kid


def test_set_changes_every_switch_and_nothing_else() -> None:
    page = run_json("create", "--name", "Shop bot")
    changed = run_json(
        "set",
        page["bot_id"],
        "--name",
        "Shop bot 2",
        "--version",
        "1",
        "--mode",
        "async",
        "--no-polling",
        "--jwt-algorithm",
        "HS512",
        "--enforce-jti",
        "--callback-names-user",
        "--v1-ack",
        "json",
        "--form-placement",
        "data",
        "--sdk-form-links",
    )
    stored = EmulatedWebhook.objects.get(bot_id=page["bot_id"])
    assert (
        stored.bot_name,
        stored.version,
        stored.is_async,
        stored.polling,
        stored.jwt_algorithm,
        stored.enforce_jti,
        stored.callback_names_user,
        stored.v1_ack_body,
        stored.form_placement,
        stored.sdk_form_links,
    ) == ("Shop bot 2", 1, True, False, "HS512", True, True, "json", "data", True)
    assert (changed["client_id"], changed["client_secret"]) == (
        page["client_id"],
        page["client_secret"],
    )
    assert changed["webhook_url"].endswith(f"/chatbot/hooks/{page['bot_id']}")
    back = run_json("set", page["bot_id"], "--polling", "--no-enforce-jti", "--v1-ack", "empty")
    assert (back["polling"], back["enforce_jti"], back["v1_ack"], back["mode"]) == (
        True,
        False,
        "empty",
        "async",
    )


def test_an_rs_app_stores_the_customers_public_key(tmp_path: Path) -> None:
    public, _private = pem_pair(tmp_path)
    page = run_json(
        "create",
        "--name",
        "RS",
        "--jwt-algorithm",
        "RS256",
        "--jwt-public-key-file",
        str(public),
    )
    stored = EmulatedWebhook.objects.get(bot_id=page["bot_id"])
    assert stored.jwt_public_key.strip() == public.read_text().strip()
    assert (page["jwt_algorithm"], page["jwt_public_key"]) == ("RS256", True)
    # Back to HS: the key belonged to the RS app.
    assert run_json("set", page["bot_id"], "--jwt-algorithm", "HS256")["jwt_public_key"] is False
    assert EmulatedWebhook.objects.get(bot_id=page["bot_id"]).jwt_public_key == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "st-unknown"], "No emulated channel has the bot id 'st-unknown'."),
        (["set-post-url", "st-unknown", "https://x.example/"], "No emulated channel"),
        (["create", "--name", "x", "--instance"], "--instance makes a further hook instance"),
        (["create", "--name", "x", "--bot-id", "st-1"], "--bot-id is only for --instance"),
        (["create", "--name", "x", "--instance", "--bot-id", "st-1"], "No emulated channel"),
        (["create", "--name", " "], "A channel needs a name."),
        (["create", "--name", "x", "--jwt-algorithm", "RS512"], "RS512 needs the public key"),
        (["create", "--name", "x", "--jwt-public-key-file", "/nonexistent"], "Cannot read"),
        (["create", "--name", "x", "--version", "3"], "invalid choice: 3"),
        (["create"], "the following arguments are required: --name"),
    ],
)
def test_a_wrong_request_is_a_clear_error_that_creates_nothing(
    args: list[str], message: str
) -> None:
    before = EmulatedWebhook.objects.count()
    with pytest.raises(CommandError) as raised:
        run(*args)
    assert message in str(raised.value)
    assert EmulatedWebhook.objects.count() == before


def test_a_wrong_key_or_post_url_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    public, private = pem_pair(tmp_path)
    page = run_json("create", "--name", "Shop bot", "--mode", "async")
    bot = page["bot_id"]
    wrong = [
        (
            ["set", bot, "--jwt-algorithm", "RS256", "--jwt-public-key-file", str(private)],
            "Not a PEM public key",
        ),
        (["set", bot, "--jwt-public-key-file", str(public)], "a public key is only for RS256"),
        (["set", bot], "Nothing to change"),
        (["set-post-url", bot, "ftp://x.example/"], "Not a POST_URL"),
        (["set-post-url", bot, "//x.example/"], "Not a POST_URL"),
        (["show", bot, "--instance", "ivrInst-x"], "has no hook instance 'ivrInst-x'"),
    ]
    for args, message in wrong:
        with pytest.raises(CommandError, match=re.escape(message)):
            run(*args)
    assert run_json("show", bot) == page


def test_set_post_url_stores_the_relays_post_url() -> None:
    page = run_json("create", "--name", "Shop bot", "--mode", "async")
    url = "http://127.0.0.1:8000/hooks/kore/shop/a-callback-secret-0123456789/"
    assert run_json("set-post-url", page["bot_id"], url)["post_url"] == url
    assert EmulatedWebhook.objects.get(bot_id=page["bot_id"]).post_url == url
    assert "POST_URL:       /hooks/kore/x/y/" in run(
        "set-post-url", page["bot_id"], "/hooks/kore/x/y/"
    )


def test_list_names_every_channel_without_its_secret() -> None:
    page = run_json("create", "--name", "Shop bot", "--mode", "async")
    rows = run_json("list")
    assert len(rows) == EmulatedWebhook.objects.count()
    mine = next(row for row in rows if row["bot_id"] == page["bot_id"])
    assert mine == {
        "name": "Shop bot",
        "bot_id": page["bot_id"],
        "instance_id": "",
        "client_id": page["client_id"],
        "version": 2,
        "mode": "async",
        "post_url": "",
    }
    text = run("list")
    assert f"{page['bot_id']}  V2 async  Shop bot" in text.splitlines()
    for webhook in EmulatedWebhook.objects.all():
        assert webhook.client_secret not in text
        assert webhook.client_secret not in json.dumps(rows)


def test_with_the_emulator_off_there_is_no_channel_command_nor_admin() -> None:
    env = {**os.environ, "KORE_EMULATOR": "false", "DEBUG": "true"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    code = (
        "import django; django.setup()\n"
        "from django.contrib import admin\n"
        "from django.core.management import get_commands\n"
        "print(sorted(m._meta.app_label for m in admin.site._registry))\n"
        "print('emulator_channel' in get_commands())\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "kore_chat.settings"},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert "emulator" not in output[0] and "webclient" in output[0]
    assert output[1] == "False"
