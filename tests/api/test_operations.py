"""Health, readiness, and what unknown routes answer."""

from __future__ import annotations

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from webclient.models import Bot

pytestmark = pytest.mark.django_db


def test_it_is_ready_when_every_bots_upstream_may_be_called(settings: SettingsWrapper) -> None:
    settings.KORE_ALLOW_LOOPBACK_UPSTREAM = True
    answer = Client().get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "bots": 4}


def test_it_is_not_ready_when_a_bots_upstream_is_not_allowed(settings: SettingsWrapper) -> None:
    settings.DEBUG = False
    settings.KORE_ALLOW_LOOPBACK_UPSTREAM = False
    answer = Client().get("/readyz")
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error["code"] == "upstream_not_allowed"
    assert sorted(error["bots"]) == ["demo", "demo-v1-async", "demo-v1-sync", "demo-v2-async"]


def test_it_is_not_ready_without_an_enabled_bot() -> None:
    Bot.objects.update(enabled=False)
    answer = Client().get("/readyz")
    assert (answer.status_code, answer.json()["error"]["code"]) == (503, "no_bots")


def test_an_unknown_api_route_answers_in_the_api_format() -> None:
    for path in ("/api/v1/nothing", "/hooks/nothing"):
        answer = Client().get(path)
        assert answer.status_code == 404
        assert answer.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_an_unknown_page_answers_a_page() -> None:
    answer = Client().get("/nothing-here")
    assert answer.status_code == 404
    assert answer["Content-Type"].startswith("text/html")
