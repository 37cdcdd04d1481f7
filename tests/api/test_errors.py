"""Domain errors become HTTP in one place: the kind→status table and one answer builder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.asgi_client import asgi_get
from tests.code_imports import WEBCLIENT, imported_modules
from webclient.api.errors import STATUS, error_answer, error_response, exception_handler
from webclient.errors import ApplicationError, Kind

# The statuses docs/api.md promises, with the kind the domain raises for each.
CONTRACT = {
    400: Kind.INVALID,
    401: Kind.UNAUTHENTICATED,
    403: Kind.FORBIDDEN,
    404: Kind.NOT_FOUND,
    409: Kind.CONFLICT,
    413: Kind.TOO_LARGE,
    429: Kind.RATE_LIMITED,
    502: Kind.UPSTREAM_FAILED,
    503: Kind.UNAVAILABLE,
    504: Kind.UPSTREAM_TIMEOUT,
}


def test_every_kind_has_the_status_the_api_contract_names() -> None:
    assert set(STATUS) == set(Kind)
    assert {STATUS[kind]: kind for kind in CONTRACT.values()} == CONTRACT


def test_no_two_kinds_share_a_status() -> None:
    # DRF exceptions arrive as statuses: the way back to a kind must be unambiguous.
    assert len(set(STATUS.values())) == len(STATUS)


def test_an_error_answer_carries_code_message_and_extra_fields_in_the_one_body() -> None:
    answer = error_answer(
        ApplicationError("invalid_form", "name: required", extra={"fields": {"name": ["x"]}})
    )
    assert answer.status == 400
    assert answer.body == {
        "error": {"code": "invalid_form", "message": "name: required", "fields": {"name": ["x"]}}
    }
    assert answer.headers == {}


def test_an_unauthenticated_answer_asks_for_a_bearer_token() -> None:
    answer = error_answer(ApplicationError("invalid_token", "expired", Kind.UNAUTHENTICATED))
    assert (answer.status, answer.headers) == (401, {"WWW-Authenticate": "Bearer"})


def test_a_rate_limited_answer_says_when_to_retry() -> None:
    error = ApplicationError("rate_limited", "slow down", Kind.RATE_LIMITED, retry_after=17)
    assert (error_answer(error).status, error_answer(error).headers) == (
        429,
        {"Retry-After": "17"},
    )


@pytest.mark.parametrize(
    "error",
    [
        ApplicationError("rate_limited", "slow down", Kind.RATE_LIMITED, retry_after=3),
        ApplicationError("invalid_token", "expired", Kind.UNAUTHENTICATED),
        ApplicationError("no_bots", "none", Kind.UNAVAILABLE, extra={"bots": ["a"]}),
    ],
    ids=["429", "401", "503"],
)
def test_drf_views_and_plain_views_answer_an_error_alike(error: ApplicationError) -> None:
    drf = exception_handler(error, {})
    plain = error_response(error)
    assert drf is not None
    assert drf.status_code == plain.status_code == error_answer(error).status
    assert drf.data == json.loads(plain.content)
    for name in error_answer(error).headers:
        assert drf[name] == plain[name]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_drf_view_and_the_bare_long_poll_answer_a_bad_token_alike() -> None:
    drf = APIClient().get(
        "/api/v1/messages", {"after": 0, "wait": 0}, HTTP_AUTHORIZATION="Bearer not.a.token"
    )
    status, headers, body = asgi_get(
        "/api/v1/messages",
        "after=0&wait=0",
        {"host": "testserver", "authorization": "Bearer not.a.token"},
    )
    assert drf.status_code == status == 401
    assert drf.json() == body
    assert body["error"]["code"] == "invalid_token"
    assert headers["www-authenticate"] == drf["WWW-Authenticate"] == "Bearer"


def test_no_module_below_the_api_imports_from_it() -> None:
    # urls.py is above the API: it routes requests to its views. So is kore_sdk/, the Kore
    # Web SDK's routes, built on the API's authentication, permissions and throttles.
    above = {Path("urls.py")}
    upward = {
        str(path.relative_to(WEBCLIENT))
        for path in WEBCLIENT.rglob("*.py")
        if path.relative_to(WEBCLIENT).parts[0] not in {"api", "kore_sdk"}
        and path.relative_to(WEBCLIENT) not in above
        and any(name.startswith("webclient.api") for name in imported_modules(path))
    }
    assert upward == set()
