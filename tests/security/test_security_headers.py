"""Response headers (CSP, framing, HTTPS), CORS per bot, and the admin's guard rails."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from tests.admin_forms import bot_form
from tests.asgi_client import asgi_get
from webclient.models import Bot
from webclient.sts import token_issue

pytestmark = pytest.mark.django_db

EMBEDDER = "https://shop.example.com"
STRANGER = "https://evil.example.net"


@pytest.fixture
def demo() -> Bot:
    bot = Bot.objects.get(slug="demo")
    bot.allowed_origins = f"{EMBEDDER}\nhttps://other.example.org:8443"
    bot.save()
    return bot


def csp(response: Any) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in policy.split("; ")}


# Headers


def test_the_chat_page_forbids_inline_script_and_may_be_framed_by_the_bots_origins(
    demo: Bot,
) -> None:
    page = Client().get("/?bot=demo")
    assert page.status_code == 200
    policy = csp(page)
    assert policy["script-src"] == "'self'"
    assert "unsafe-inline" not in page["Content-Security-Policy"]
    assert policy["frame-ancestors"].split() == [
        "'self'",
        "https://other.example.org:8443",
        EMBEDDER,
    ]
    assert "X-Frame-Options" not in page
    assert b"<script>" not in page.content


def test_a_chat_page_for_an_unknown_bot_may_be_framed_by_this_site_only() -> None:
    assert csp(Client().get("/?bot=nope"))["frame-ancestors"] == "'self'"


def test_other_pages_may_not_be_framed_at_all() -> None:
    for path in ("/admin/login/", "/healthz", "/api/v1/messages"):
        response = Client().get(path)
        assert csp(response)["frame-ancestors"] == "'none'"
        assert response["X-Frame-Options"] == "DENY"


def test_every_response_carries_nosniff_and_a_referrer_policy() -> None:
    for path in ("/", "/admin/login/", "/healthz"):
        response = Client().get(path)
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"


def test_over_https_the_server_sends_hsts_and_secure_cookies(settings: SettingsWrapper) -> None:
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    response = Client().get("/admin/login/", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response.cookies["csrftoken"]["secure"]


def test_plain_http_is_redirected_to_https_except_health_checks(
    settings: SettingsWrapper,
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    redirected = Client().get("/?bot=demo")
    assert redirected.status_code == 301
    assert redirected["Location"].startswith("https://")
    assert Client().get("/healthz").status_code == 200


# CORS through Django


def test_a_preflight_from_an_allowed_origin_is_answered(demo: Bot) -> None:
    answer = Client().options(
        "/api/v1/messages",
        HTTP_ORIGIN=EMBEDDER,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )
    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == EMBEDDER
    assert "authorization" in answer["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in answer


def test_a_preflight_from_an_unknown_origin_gets_no_cors_headers(demo: Bot) -> None:
    answer = Client().options(
        "/api/v1/sts", HTTP_ORIGIN=STRANGER, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert "Access-Control-Allow-Origin" not in answer


def test_a_token_request_from_an_allowed_origin_is_readable_cross_origin(demo: Bot) -> None:
    answer = APIClient().post("/api/v1/sts", {"bot": "demo"}, format="json", HTTP_ORIGIN=EMBEDDER)
    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == EMBEDDER
    assert "Retry-After" in answer["Access-Control-Expose-Headers"]


def test_an_origin_allowed_for_another_bot_is_refused_by_this_bot(demo: Bot) -> None:
    answer = APIClient().post(
        "/api/v1/sts", {"bot": "demo-v1-sync"}, format="json", HTTP_ORIGIN=EMBEDDER
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "origin_not_allowed"


def test_an_unknown_origin_is_refused_and_gets_no_cors_headers(demo: Bot) -> None:
    token = token_issue(bot=demo, identity="ida", anonymous=False).jwt
    answer = APIClient().post(
        "/api/v1/messages",
        {"text": "hi", "clientMessageId": "x"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_ORIGIN=STRANGER,
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in answer


def test_same_origin_requests_need_no_allowed_origins() -> None:
    answer = APIClient().post(
        "/api/v1/sts", {"bot": "demo"}, format="json", HTTP_ORIGIN="http://testserver"
    )
    assert answer.status_code == 200
    assert "Access-Control-Allow-Origin" not in answer


def test_cors_is_not_offered_outside_the_api(demo: Bot) -> None:
    answer = Client().get("/admin/login/", HTTP_ORIGIN=EMBEDDER)
    assert "Access-Control-Allow-Origin" not in answer


# CORS on the bare ASGI long-poll path


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_bare_long_poll_path_sends_the_same_cors_headers(demo: Bot) -> None:
    token = token_issue(bot=demo, identity="ivy", anonymous=False).jwt
    base = {"host": "testserver", "origin": EMBEDDER}
    status, headers, body = asgi_get(
        "/api/v1/messages", "after=0&wait=0", {**base, "authorization": f"Bearer {token}"}
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == EMBEDDER
    assert "Retry-After" in headers["access-control-expose-headers"]
    # An error is readable cross-origin too, or the widget could not tell it must re-auth.
    status, headers, body = asgi_get("/api/v1/messages", "after=0", base)
    assert status == 401
    assert body["error"]["code"] == "invalid_token"
    assert headers["access-control-allow-origin"] == EMBEDDER


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_bare_long_poll_path_refuses_an_origin_the_bot_does_not_allow(demo: Bot) -> None:
    other = Bot.objects.get(slug="demo-v1-sync")
    token = token_issue(bot=other, identity="ivy", anonymous=False).jwt
    headers = {"host": "testserver", "origin": EMBEDDER, "authorization": f"Bearer {token}"}
    status, _, body = asgi_get("/api/v1/messages", "after=0&wait=0", headers)
    assert status == 403
    assert body["error"]["code"] == "origin_not_allowed"
    headers["origin"] = STRANGER
    status, response_headers, _ = asgi_get("/api/v1/messages", "after=0&wait=0", headers)
    assert status == 403
    assert "access-control-allow-origin" not in response_headers


# Admin


def test_the_admin_marks_browser_trusting_bots_as_insecure(superuser_client: Client) -> None:
    listing = superuser_client.get("/admin/webclient/bot/")
    assert "Insecure: trusts the browser" in listing.content.decode()
    demo = Bot.objects.get(slug="demo")
    form = superuser_client.get(f"/admin/webclient/bot/{demo.pk}/change/")
    assert "Insecure: this bot trusts the browser" in form.content.decode()


def test_the_admin_never_shows_a_stored_secret(superuser_client: Client) -> None:
    demo = Bot.objects.get(slug="demo")
    page = superuser_client.get(f"/admin/webclient/bot/{demo.pk}/change/").content.decode()
    for secret in (demo.client_secret, demo.callback_secret):
        assert secret not in page


def test_the_admin_refuses_a_client_secret_shorter_than_256_bits(superuser_client: Client) -> None:
    demo = Bot.objects.get(slug="demo")
    answer = superuser_client.post(
        f"/admin/webclient/bot/{demo.pk}/change/",
        bot_form(demo, client_secret="too-short"),
    )
    assert answer.status_code == 200
    assert "At least 32 bytes" in answer.content.decode()
    demo.refresh_from_db()
    assert demo.client_secret != "too-short"


def test_the_admin_refuses_allowed_origins_that_are_not_origins(superuser_client: Client) -> None:
    demo = Bot.objects.get(slug="demo")
    answer = superuser_client.post(
        f"/admin/webclient/bot/{demo.pk}/change/",
        bot_form(demo, allowed_origins="https://ok.example\nhttps://x.example; script-src *"),
    )
    assert "Not an origin" in answer.content.decode()


def test_a_bot_change_is_audited_with_who_and_which_fields_but_no_secret_values(
    superuser_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    demo = Bot.objects.get(slug="demo")
    new_secret = "n" * 40
    with caplog.at_level(logging.INFO, logger="kore_chat.audit"):
        answer = superuser_client.post(
            f"/admin/webclient/bot/{demo.pk}/change/",
            bot_form(demo, name="Renamed", client_secret=new_secret),
        )
    assert answer.status_code == 302, answer.context["adminform"].form.errors
    entry = LogEntry.objects.latest("action_time")
    assert entry.user.get_username() == "root"
    assert entry.object_repr == "demo"
    message = entry.get_change_message()
    assert "Name" in message and "Client secret" in message
    # Secrets submitted empty are kept, and not reported as changed.
    assert "Callback secret" not in message
    assert new_secret not in entry.change_message
    audit_lines = [r.getMessage() for r in caplog.records if r.name == "kore_chat.audit"]
    assert len(audit_lines) == 1
    assert "bot demo changed by root" in audit_lines[0]
    assert "Client secret" in audit_lines[0]
    assert new_secret not in " ".join(r.getMessage() for r in caplog.records)
    demo.refresh_from_db()
    assert demo.client_secret == new_secret


def test_the_event_loops_health_check_carries_the_headers_django_gives_it(
    settings: SettingsWrapper,
) -> None:
    import asyncio

    from kore_chat.asgi import application

    settings.ALLOWED_HOSTS = ["testserver"]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(event: dict[str, object]) -> None:
        sent.append(event)

    scope = {"type": "http", "method": "GET", "path": "/healthz", "headers": [], "scheme": "http"}
    asyncio.run(application(scope, receive, send))  # type: ignore[arg-type]
    raw = sent[0]["headers"]
    assert isinstance(raw, list)
    bare = {name.decode(): value.decode() for name, value in raw}
    django = Client().get("/healthz")
    assert (sent[0]["status"], sent[1]["body"]) == (200, django.content)
    for name in ("Content-Type", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"):
        assert bare[name.lower()] == django[name]
    assert csp(django)["frame-ancestors"] == "'none'"
    assert "frame-ancestors 'none'" in bare["content-security-policy"]
