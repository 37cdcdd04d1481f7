"""Health, readiness, and what unknown routes answer."""

from __future__ import annotations

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.waiting import wait_until
from webclient.delivery import notifier
from webclient.models import Bot

pytestmark = pytest.mark.django_db


def test_it_is_ready_when_every_bots_upstream_may_be_called(settings: SettingsWrapper) -> None:
    settings.KORE_ALLOW_LOOPBACK_UPSTREAM = True
    # A worker is fully ready once it hears other processes' stores (PostgreSQL: LISTEN).
    notifier.start()
    wait_until(notifier.listening, message="the notifier never listened")
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


def test_readiness_is_logged_once_per_change_at_warning_not_as_an_error_per_probe(
    caplog: pytest.LogCaptureFixture, settings: SettingsWrapper
) -> None:
    settings.KORE_ALLOW_LOOPBACK_UPSTREAM = True
    assert Client().get("/readyz").status_code == 200  # whatever this process saw before
    caplog.clear()
    Bot.objects.update(enabled=False)
    with caplog.at_level("INFO"):
        for _ in range(3):
            assert Client().get("/readyz").status_code == 503
        Bot.objects.update(enabled=True)
        assert Client().get("/readyz").status_code == 200
        assert Client().get("/readyz").status_code == 200
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name != "httpx"]
    assert lines == [
        ("WARNING", "not ready (no_bots): No enabled bot is configured."),
        ("INFO", "ready again"),
    ]
