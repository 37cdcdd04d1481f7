"""The admin's add-bot form as an operator fills it in: a secret typed once survives another
field's error (without the page ever holding it in clear), and a callback secret is
generated when none is given, as `create_bot` does."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from webclient.admin import CALLBACK_SECRET
from webclient.models import Bot

CLIENT_SECRET = "a-client-secret-of-more-than-32-bytes-0123456789"
IDENTITY_SECRET = "an-identity-secret-of-more-than-32-bytes-987654"


def new_bot(**changes: str) -> dict[str, str]:
    data = {
        "slug": "support",
        "name": "Support",
        "enabled": "on",
        "upstream_url": "",
        "bot_id": "st-1234",
        "client_id": "cs-1234",
        "client_secret": CLIENT_SECRET,
        "api_version": "2",
        "mode": "sync",
        "hook_instance_id": "",
        "callback_secret": "",
        "identity_mode": "verified",
        "jwt_algorithm": "HS256",
        "jwe_alg": "RSA-OAEP",
        "jwe_enc": "A128CBC-HS256",
        "preferred_channel": "rtm",
        "identity_secret": IDENTITY_SECRET,
        "allowed_origins": "https://www.example.com",
        "custom_data": "{}",
        "meta_tags": "{}",
        "theme_launcher_position": "right",
        "theme_color_scheme": "auto",
    }
    data.update(changes)
    return data


def hidden_inputs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


@pytest.mark.django_db
def test_a_client_secret_typed_once_survives_an_unrelated_error_and_never_shows_in_clear(
    superuser_client: Client,
) -> None:
    first = superuser_client.post(
        "/admin/webclient/bot/add/", new_bot(allowed_origins="not an origin")
    )
    assert first.status_code == 200
    page = first.content.decode()
    assert "Not an origin" in page
    assert CLIENT_SECRET not in page and IDENTITY_SECRET not in page
    carried = {k: v for k, v in hidden_inputs(page).items() if k.endswith("_entered")}
    assert carried["client_secret_entered"] and carried["identity_secret_entered"]
    # The operator fixes the origin and submits again, the secret fields left as shown: empty.
    second = superuser_client.post(
        "/admin/webclient/bot/add/",
        new_bot(client_secret="", identity_secret="", **carried),
    )
    assert second.status_code == 302, second.content.decode()[:3000]
    bot = Bot.objects.get(slug="support")
    assert bot.client_secret == CLIENT_SECRET
    assert bot.identity_secret == IDENTITY_SECRET


@pytest.mark.django_db
def test_a_carried_secret_cannot_be_forged_nor_moved_to_another_field(
    superuser_client: Client,
) -> None:
    first = superuser_client.post(
        "/admin/webclient/bot/add/", new_bot(allowed_origins="not an origin")
    )
    carried = hidden_inputs(first.content.decode())
    answer = superuser_client.post(
        "/admin/webclient/bot/add/",
        new_bot(
            client_secret="",
            identity_secret="",
            client_secret_entered=carried["identity_secret_entered"],
            identity_secret_entered="forged",
        ),
    )
    assert answer.status_code == 200
    assert not Bot.objects.filter(slug="support").exists()


@pytest.mark.django_db
def test_a_bot_added_without_a_callback_secret_gets_one_generated(
    superuser_client: Client, settings: Any
) -> None:
    answer = superuser_client.post("/admin/webclient/bot/add/", new_bot(callback_secret=""))
    assert answer.status_code == 302, answer.content.decode()[:3000]
    secret = Bot.objects.get(slug="support").callback_secret
    assert CALLBACK_SECRET.fullmatch(secret) and len(secret) >= 24


@pytest.mark.django_db
def test_the_bot_list_says_a_v1_sync_bot_answers_in_the_response_not_with_polling(
    superuser_client: Client,
) -> None:
    page = superuser_client.get("/admin/webclient/bot/").content.decode()
    rows = {
        slug: page[page.index(f">{slug}</a>") :].split("</tr>")[0]
        for slug in ("demo", "demo-v1-sync", "demo-v1-async")
    }
    assert "Synchronous (the answer in the response)" in rows["demo-v1-sync"]
    assert "polling" not in rows["demo-v1-sync"]
    assert "Synchronous (with polling)" in rows["demo"]
    assert "Asynchronous" in rows["demo-v1-async"]
