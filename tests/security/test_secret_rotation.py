"""Rotating a bot's client secret keeps conversations working, and only for a while."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from tests.admin_forms import bot_form
from webclient.models import Bot

# The long-poll queries run on their own threads: the data must be committed.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

NEW_SECRET = "new-client-secret-" + "x" * 30


@pytest.fixture(autouse=True)
def no_forwarding(settings: SettingsWrapper) -> None:
    settings.KORE_DISPATCHER = False


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def history(token: str) -> Any:
    return bearer(token).get("/api/v1/messages", {"after": 0, "wait": 0})


@pytest.fixture
def conversation() -> tuple[str, str]:
    """An anonymous user with one message; returns its token and identity."""
    answer = APIClient().post("/api/v1/sts", {"bot": "demo"}, format="json").json()
    sent = bearer(answer["jwt"]).post(
        "/api/v1/messages", {"text": "before", "clientMessageId": "m-1"}, format="json"
    )
    assert sent.status_code == 202
    return answer["jwt"], answer["identity"]


def rotate(admin: Client) -> Bot:
    demo = Bot.objects.get(slug="demo")
    answer = admin.post(
        f"/admin/webclient/bot/{demo.pk}/change/", bot_form(demo, client_secret=NEW_SECRET)
    )
    assert answer.status_code == 302
    demo.refresh_from_db()
    assert demo.client_secret == NEW_SECRET
    return demo


def test_an_anonymous_conversation_survives_a_rotation_through_a_refresh(
    superuser_client: Client, conversation: tuple[str, str]
) -> None:
    old_token, identity = conversation
    rotate(superuser_client)
    assert [m["text"] for m in history(old_token).json()["messages"]] == ["before"]

    refreshed = bearer(old_token).post("/api/v1/sts/refresh")
    assert refreshed.status_code == 200
    new_token = refreshed.json()["jwt"]
    assert jwt.decode(new_token, NEW_SECRET, algorithms=["HS256"])["sub"] == identity
    assert [m["text"] for m in history(new_token).json()["messages"]] == ["before"]


def test_the_previous_secret_cannot_mint_a_token_after_the_rotation(
    superuser_client: Client, conversation: tuple[str, str]
) -> None:
    old_token, _ = conversation
    demo = Bot.objects.get(slug="demo")
    old_secret = demo.client_secret
    rotate(superuser_client)
    claims = jwt.decode(old_token, options={"verify_signature": False})
    now = int(time.time()) + 60
    forged = jwt.encode({**claims, "iat": now, "exp": now + 600}, old_secret, algorithm="HS256")
    assert history(forged).status_code == 401


def test_the_previous_secret_is_accepted_for_one_token_lifetime_only(
    superuser_client: Client, conversation: tuple[str, str], settings: SettingsWrapper
) -> None:
    old_token, _ = conversation
    demo = rotate(superuser_client)
    demo.client_secret_rotated_at = timezone.now() - timedelta(
        seconds=settings.STS_TOKEN_LIFETIME + 60
    )
    demo.save()
    assert history(old_token).status_code == 401


def test_an_admin_can_stop_accepting_the_previous_secret_at_once(
    superuser_client: Client, conversation: tuple[str, str]
) -> None:
    old_token, _ = conversation
    demo = rotate(superuser_client)
    answer = superuser_client.post(
        "/admin/webclient/bot/",
        {"action": "end_rotation_grace", "_selected_action": [demo.pk]},
    )
    assert answer.status_code == 302
    assert history(old_token).status_code == 401
    demo.refresh_from_db()
    assert demo.previous_client_secret == ""
