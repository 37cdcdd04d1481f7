"""The declarative request checks: the origin permission, the rate-limit throttles, and the
CORS decision the middleware and the bare long-poll path share."""

from __future__ import annotations

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from webclient import bot_origins
from webclient.api.auth import BearerTokenAuthentication
from webclient.api.permissions import OriginAllowed
from webclient.api.throttles import SendPerIdentity, SendPerIp, StsPerIp
from webclient.errors import ApplicationError, Kind
from webclient.models import Bot
from webclient.sts import Principal, token_issue

pytestmark = pytest.mark.django_db

EMBEDDER = "https://shop.example.com"
STRANGER = "https://evil.example.net"
OWN = {"http://testserver"}


@pytest.fixture
def embedded() -> Bot:
    bot = Bot.objects.get(slug="demo")
    bot.allowed_origins = EMBEDDER
    bot.save()
    return bot


def request_from(
    origin: str | None = None, address: str = "127.0.0.5", token: str | None = None
) -> Request:
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    request = APIRequestFactory().post("/api/v1/sts", REMOTE_ADDR=address, **headers)
    return Request(request, authenticators=[BearerTokenAuthentication()])


def as_principal(bot: Bot, identity: str, origin: str | None = None) -> Request:
    """A request carrying a chat token, authenticated as the views authenticate it."""
    token = token_issue(bot=bot, identity=identity, anonymous=False).jwt
    request = request_from(origin, token=token)
    assert isinstance(request.user, Principal)
    return request


# The origin permission


@pytest.mark.parametrize("origin", [None, "http://testserver", EMBEDDER], ids=str)
def test_the_origin_permission_lets_same_origin_and_listed_callers_in(
    embedded: Bot, origin: str | None
) -> None:
    assert OriginAllowed().has_object_permission(request_from(origin), None, embedded)
    assert OriginAllowed().has_permission(as_principal(embedded, "ann", origin), None)


def test_the_origin_permission_refuses_an_origin_the_bot_does_not_list(embedded: Bot) -> None:
    for check in (
        lambda: OriginAllowed().has_object_permission(request_from(STRANGER), None, embedded),
        lambda: OriginAllowed().has_permission(as_principal(embedded, "ann", STRANGER), None),
    ):
        with pytest.raises(ApplicationError) as refused:
            check()
        assert (refused.value.kind, refused.value.code) == (Kind.FORBIDDEN, "origin_not_allowed")


def test_the_origin_permission_waits_for_the_bot_when_the_caller_has_no_token() -> None:
    assert OriginAllowed().has_permission(request_from(STRANGER), None)


# The throttles


def test_a_throttle_refuses_past_its_limit_and_says_how_long_to_wait(
    settings: SettingsWrapper,
) -> None:
    settings.RATELIMIT_STS_PER_IP = 2
    throttle = StsPerIp()
    assert [throttle.allow_request(request_from(), None) for _ in range(3)] == [True, True, False]
    wait = throttle.wait()
    assert wait is not None and 1 <= wait <= settings.RATELIMIT_WINDOW
    assert StsPerIp().allow_request(request_from(address="127.0.0.6"), None)


def test_the_send_throttles_count_per_identity_and_per_address(
    settings: SettingsWrapper, embedded: Bot
) -> None:
    settings.RATELIMIT_SEND_PER_IDENTITY = 1
    settings.RATELIMIT_SEND_PER_IP = 2
    ann, bob, cy = (as_principal(embedded, name) for name in ("ann", "bob", "cy"))
    assert SendPerIdentity().allow_request(ann, None)
    assert not SendPerIdentity().allow_request(ann, None)
    assert SendPerIdentity().allow_request(bob, None)
    assert [SendPerIp().allow_request(r, None) for r in (ann, bob, cy)] == [True, True, False]


def test_a_throttle_with_a_limit_of_zero_never_refuses(settings: SettingsWrapper) -> None:
    settings.RATELIMIT_STS_PER_IP = 0
    assert all(StsPerIp().allow_request(request_from(), None) for _ in range(5))


# One CORS decision for both paths


def test_the_cors_decision_gives_headers_only_to_origins_some_bot_allows(embedded: Bot) -> None:
    assert bot_origins.response_cors_headers(None, OWN) == {}
    assert bot_origins.response_cors_headers("http://testserver", OWN) == {}
    assert bot_origins.response_cors_headers(STRANGER, OWN) == {"Vary": "Origin"}
    assert bot_origins.response_cors_headers(EMBEDDER, OWN) == {
        "Access-Control-Allow-Origin": EMBEDDER,
        "Vary": "Origin",
        "Access-Control-Expose-Headers": "Retry-After",
    }


@pytest.mark.parametrize("origin", [EMBEDDER, STRANGER, "http://testserver"])
def test_the_middleware_adds_what_the_cors_decision_says(embedded: Bot, origin: str) -> None:
    answer = Client().get("/api/v1/messages", HTTP_ORIGIN=origin)
    decided = bot_origins.response_cors_headers(origin, OWN)
    for name in ("Access-Control-Allow-Origin", "Access-Control-Expose-Headers"):
        assert answer.get(name) == decided.get(name)
