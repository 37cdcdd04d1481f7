"""Rotating a bot's client secret keeps conversations working, and only for a while."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any, cast

import jwt
import pytest
import time_machine
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


def rotate(admin: Client, secret: str = NEW_SECRET) -> Bot:
    demo = Bot.objects.get(slug="demo")
    answer = admin.post(
        f"/admin/webclient/bot/{demo.pk}/change/", bot_form(demo, client_secret=secret)
    )
    assert answer.status_code == 302
    demo.refresh_from_db()
    assert demo.client_secret == secret
    return demo


def end_grace(admin: Client) -> None:
    demo = Bot.objects.get(slug="demo")
    answer = admin.post(
        "/admin/webclient/bot/", {"action": "end_rotation_grace", "_selected_action": [demo.pk]}
    )
    assert answer.status_code == 302


def refresh(token: str) -> str:
    answer = bearer(token).post("/api/v1/sts/refresh")
    assert answer.status_code == 200, answer.content
    refreshed: str = answer.json()["jwt"]
    return refreshed


def forged_during_the_grace(old_token: str, old_secret: str, demo: Bot, **claims: Any) -> str:
    """What a holder of the leaked previous secret can mint: any identity, dated before the
    rotation so that the grace accepts it."""
    rotated_at = int(cast(datetime, demo.client_secret_rotated_at).timestamp())
    base = jwt.decode(old_token, options={"verify_signature": False})
    iat = rotated_at - 5
    forged = {**base, "iat": iat, "exp": iat + 3000, "authTime": iat, **claims}
    return jwt.encode({k: v for k, v in forged.items() if v is not None}, old_secret, "HS256")


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


@pytest.mark.parametrize("auth_time", ["as iat", "absent", "far past"])
def test_ending_the_grace_revokes_every_token_refreshed_from_a_forged_one(
    superuser_client: Client, conversation: tuple[str, str], auth_time: str
) -> None:
    old_token, _ = conversation
    old_secret = Bot.objects.get(slug="demo").client_secret
    demo = rotate(superuser_client)
    claims: dict[str, Any] = {"sub": "anon-victim", "userIdentity": "anon-victim"}
    if auth_time == "absent":
        claims["authTime"] = None
    elif auth_time == "far past":
        claims["authTime"] = int(time.time()) - 3600
    forged = forged_during_the_grace(old_token, old_secret, demo, **claims)
    descendant = refresh(refresh(forged))
    assert history(descendant).status_code == 200

    started_after = APIClient().post("/api/v1/sts", {"bot": "demo"}, format="json").json()["jwt"]
    end_grace(superuser_client)
    assert history(descendant).status_code == 401
    assert bearer(descendant).post("/api/v1/sts/refresh").status_code == 401
    # A conversation that began under the new secret is not touched.
    assert history(started_after).status_code == 200
    assert history(refresh(started_after)).status_code == 200


def test_rotating_again_revokes_what_descends_from_the_first_old_secret(
    superuser_client: Client, conversation: tuple[str, str]
) -> None:
    old_token, _ = conversation
    old_secret = Bot.objects.get(slug="demo").client_secret
    demo = rotate(superuser_client)
    descendant = refresh(forged_during_the_grace(old_token, old_secret, demo))
    between = APIClient().post("/api/v1/sts", {"bot": "demo"}, format="json").json()["jwt"]
    rotate(superuser_client, "third-client-secret-" + "y" * 30)
    assert history(descendant).status_code == 401
    # The grace of the second rotation still covers conversations begun between the two.
    assert history(between).status_code == 200
    assert history(refresh(between)).status_code == 200


def test_a_chain_of_refreshes_ends_at_the_maximum_session_age(
    settings: SettingsWrapper, conversation: tuple[str, str]
) -> None:
    settings.STS_MAX_SESSION_AGE = 2
    token, _ = conversation
    refreshed = refresh(token)
    with time_machine.travel(time.time() + 3):
        answer = bearer(refreshed).post("/api/v1/sts/refresh")
        assert answer.status_code == 401
        assert "too old" in answer.json()["error"]["message"]
        # A new STS call starts a new chain; the old token still reads until it expires.
        assert history(refreshed).status_code == 200
        fresh = APIClient().post("/api/v1/sts", {"bot": "demo"}, format="json")
        assert fresh.status_code == 200
        assert refresh(fresh.json()["jwt"])


@pytest.mark.parametrize(
    ("before", "after", "body"),
    [
        ("trust_browser", "verified", {"bot": "demo", "identity": "alice"}),
        ("trust_browser", "anonymous", {"bot": "demo"}),
        ("anonymous", "trust_browser", {"bot": "demo"}),
    ],
)
def test_a_change_of_identity_mode_in_the_admin_revokes_the_tokens_issued_before_it(
    superuser_client: Client, before: str, after: str, body: dict[str, str]
) -> None:
    Bot.objects.filter(slug="demo").update(identity_mode=before)
    token = APIClient().post("/api/v1/sts", body, format="json").json()["jwt"]
    assert history(token).status_code == 200
    demo = Bot.objects.get(slug="demo")
    answer = superuser_client.post(
        f"/admin/webclient/bot/{demo.pk}/change/",
        bot_form(demo, identity_mode=after, identity_secret="i" * 40),
    )
    assert answer.status_code == 302
    sent = bearer(token).post(
        "/api/v1/messages", {"text": "still me?", "clientMessageId": "m-9"}, format="json"
    )
    assert sent.status_code == 401
    assert history(token).status_code == 401
    assert bearer(token).post("/api/v1/sts/refresh").status_code == 401
    # A token issued under the new mode works.
    fresh = APIClient().post("/api/v1/sts", {"bot": "demo"}, format="json").json()["jwt"]
    assert history(fresh).status_code == 200
