"""Generated requests against every API route: whatever the body, never a 5xx."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from webclient.api.longpoll import poll_params
from webclient.errors import ApplicationError, Kind
from webclient.models import Bot
from webclient.sts import token_issue

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
STS_KEYS = ["bot", "identity", "identityHash", "clientId", "clientSecret", "isAnonymous", "aud"]
SEND_KEYS = ["text", "clientMessageId", "postback", "formData", "event", "payload", "title"]


def bodies(keys: list[str]) -> st.SearchStrategy[Any]:
    """Mostly objects with the route's own field names, sometimes anything at all."""
    known = st.dictionaries(st.sampled_from(keys), json_values, max_size=len(keys))
    return known | json_values


content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "application/json; charset=bogus",
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data",
        "",
    ]
)
raw_bodies = st.binary(max_size=300) | st.text(max_size=300).map(str.encode)


@pytest.fixture(autouse=True)
def no_limits_no_relay(django_settings: SettingsWrapper) -> None:
    django_settings.RATELIMIT_ENABLED = False
    django_settings.KORE_DISPATCHER = False
    django_settings.LONGPOLL_MAX_WAIT = 0
    django_settings.LONGPOLL_DEFAULT_WAIT = 0


@pytest.fixture
def django_settings(settings: SettingsWrapper) -> SettingsWrapper:
    # Named apart from hypothesis' `settings`, which this module imports.
    return settings


@pytest.fixture
def bearer() -> str:
    bot = Bot.objects.get(slug="demo")
    return token_issue(bot=bot, identity="fuzzer", anonymous=False, proof="browser").jwt


def assert_no_server_error(answer: Any) -> None:
    assert answer.status_code < 500, answer.content[:500]
    if answer.status_code >= 400:
        assert "error" in answer.json()


@FUZZ
@given(body=bodies(STS_KEYS), form=st.booleans())
def test_generated_token_requests_never_fail_the_server(body: Any, form: bool) -> None:
    client = APIClient()
    if form and isinstance(body, dict):
        data = urlencode({k: json.dumps(v) for k, v in body.items()})
        answer = client.post("/api/v1/sts", data, content_type="application/x-www-form-urlencoded")
    else:
        answer = client.post("/api/users/sts", json.dumps(body), content_type="application/json")
    assert_no_server_error(answer)


@FUZZ
@given(body=bodies(SEND_KEYS))
def test_generated_sends_never_fail_the_server(bearer: str, body: Any) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {bearer}")
    answer = client.post("/api/v1/messages", json.dumps(body), content_type="application/json")
    assert_no_server_error(answer)


@FUZZ
@given(raw=raw_bodies, content_type=content_types, route=st.sampled_from(["sts", "send"]))
def test_generated_raw_bodies_and_content_types_never_fail_the_server(
    bearer: str, raw: bytes, content_type: str, route: str
) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {bearer}")
    path = "/api/v1/sts" if route == "sts" else "/api/v1/messages"
    answer = client.generic("POST", path, raw, content_type=content_type)  # type: ignore[arg-type]
    assert_no_server_error(answer)


@FUZZ
@given(
    body=bodies(["jwt", "token"]),
    authorization=st.one_of(
        st.just("valid"), st.text(max_size=80), st.text(max_size=60).map("Bearer {}".format)
    ),
)
def test_generated_refreshes_never_fail_the_server(
    bearer: str, body: Any, authorization: str
) -> None:
    header = f"Bearer {bearer}" if authorization == "valid" else authorization
    client = APIClient()
    # Header values are latin-1 on the wire.
    client.credentials(HTTP_AUTHORIZATION=header.encode("latin-1", "replace").decode("latin-1"))
    answer = client.post("/api/v1/sts/refresh", json.dumps(body), content_type="application/json")
    assert_no_server_error(answer)


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["after", "wait", "x"]), st.text(max_size=30)))
def test_generated_poll_query_strings_never_fail_the_server(
    bearer: str, query: dict[str, str]
) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {bearer}")
    answer = client.get(f"/api/v1/messages?{urlencode(query)}")
    assert_no_server_error(answer)


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["after", "wait"]),
        st.integers(min_value=-(2**70), max_value=2**70).map(str) | st.text(max_size=20),
    )
)
def test_the_long_poll_parameters_are_either_valid_or_a_400(query: dict[str, str]) -> None:
    try:
        after, wait = poll_params(query)
    except ApplicationError as exc:
        assert exc.kind is Kind.INVALID
        return
    assert 0 <= after < 2**63
    assert 0 <= wait <= 45
