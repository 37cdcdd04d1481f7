"""Observability: /metrics behind its token, the counters a conversation leaves (summed over
processes in multiprocess mode), JSON logs where one request id follows a message from the
send to the delivery, and each 4xx logged once."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import Client

from tests.client import ChatUser
from tests.liveserver import ROOT, LiveServer
from tests.relay_helpers import (
    RELAY_ENV,
    emulator_record,
    fail_next,
    final_history,
    has_bot_text,
)
from tests.waiting import wait_until

TOKEN = "metrics-token-for-tests"
GREETING = "Hello! Nice to meet you."


@pytest.mark.django_db
def test_metrics_are_off_without_a_token(settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.django_db
def test_metrics_need_the_bearer_token(settings: Any) -> None:
    settings.METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    answer = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answer.status_code == 200
    assert b"kore_chat_outbox_depth 0.0" in answer.content


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("observed")
    multiproc = root / "prometheus"
    multiproc.mkdir()
    live = LiveServer(
        root / "db.sqlite3",
        {
            **RELAY_ENV,
            "METRICS_TOKEN": TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "RATELIMIT_ENABLED": "true",
            "RATELIMIT_CALLBACK_REFUSALS_PER_IP": "1",
        },
        access_log=True,
    )
    live.migrate()
    live.start()
    yield live
    live.stop()


def scrape(server: LiveServer) -> dict[str, float]:
    answer = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    answer.raise_for_status()
    samples = {}
    for line in answer.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def log_lines(server: LiveServer) -> list[dict[str, Any]]:
    lines = []
    for raw in server.log_path.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def test_a_conversation_leaves_the_expected_counters(server: LiveServer) -> None:
    user = ChatUser(server.url, "demo")
    user.send(text="hello")
    final_history(user, has_bot_text(GREETING))
    async_user = ChatUser(server.url, "demo-v2-async")
    async_user.send(text="hello")
    final_history(async_user, has_bot_text(GREETING))
    # A refused message: the platform answers 401 once (not retried).
    bot_id = emulator_record(server.url, user.identity)["requests"][0]["bot"]
    fail_next(server.url, bot_id, 401)
    user.send(text="are you there?")
    final_history(user, lambda ms: any(m["kind"] == "error" for m in ms))

    stored = 'kore_chat_callbacks_total{bot="demo-v2-async",outcome="stored"}'
    samples = wait_until(lambda: s if (s := scrape(server)).get(stored, 0) >= 1 else {})
    assert samples['kore_chat_messages_total{bot="demo",kind="text",role="user"}'] == 2
    assert samples['kore_chat_messages_total{bot="demo",kind="text",role="bot"}'] >= 1
    assert samples['kore_chat_messages_total{bot="demo-v2-async",kind="text",role="bot"}'] >= 1
    assert samples['kore_chat_upstream_errors_total{bot="demo",status="401"}'] == 1
    assert samples['kore_chat_upstream_seconds_count{bot="demo",method="POST"}'] == 2
    assert samples["kore_chat_outbox_depth"] == 0
    assert samples["kore_chat_outbox_oldest_age_seconds"] == 0
    assert samples["kore_chat_longpolls_held"] == 0


def test_a_held_long_poll_is_counted_while_it_waits(server: LiveServer) -> None:
    user = ChatUser(server.url, "demo")
    with httpx.Client(base_url=server.url, headers=user.http.headers, timeout=30) as http:
        import threading

        waiting = threading.Thread(
            target=http.get, args=("/api/v1/messages",), kwargs={"params": {"wait": 25}}
        )
        waiting.start()
        held = wait_until(lambda: scrape(server)["kore_chat_longpolls_held"] >= 1)
        user.send(text="that ends the wait")
        waiting.join()
    assert held


def test_counters_add_up_across_processes(server: LiveServer) -> None:
    """Another process (a second worker) writing to PROMETHEUS_MULTIPROC_DIR counts too."""
    before = scrape(server).get('kore_chat_rate_limited_total{rule="from-elsewhere"}', 0)
    code = (
        "from webclient import metrics\nfor _ in range(5): metrics.rate_limited('from-elsewhere')"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=server.env, check=True
    )
    after = scrape(server)['kore_chat_rate_limited_total{rule="from-elsewhere"}']
    assert after - before == 5


def test_one_request_id_follows_a_message_from_send_to_delivery(server: LiveServer) -> None:
    user = ChatUser(server.url, "demo-v2-async")
    request_id = f"trace-{uuid.uuid4().hex}"
    answer = user.http.post(
        "/api/v1/messages",
        json={"clientMessageId": str(uuid.uuid4()), "text": "hello"},
        headers={"X-Request-ID": request_id},
    )
    assert answer.headers["X-Request-ID"] == request_id
    message_id = answer.json()["message"]["id"]
    final_history(user, has_bot_text(GREETING))

    def traced() -> list[dict[str, Any]]:
        return [
            line
            for line in log_lines(server)
            if line["request_id"] == request_id
            or request_id in line.get("followed_request_ids", [])
        ]

    lines = wait_until(lambda: found if len(found := traced()) >= 4 else [])
    messages = [line["message"] for line in lines]
    assert f"message {message_id} accepted (new: True)" in messages
    assert f"forwarding message {message_id}" in messages
    assert "bot demo-v2-async: callback stored, 1 message(s) stored" in messages
    delivered = [line for line in lines if line["message"].startswith("delivered")]
    assert delivered and all(line["request_id"] != request_id for line in delivered)
    for line in lines:
        assert set(line) >= {"time", "level", "logger", "message", "request_id"}


def test_each_client_error_is_logged_once(server: LiveServer) -> None:
    probe = uuid.uuid4().hex
    assert httpx.get(f"{server.url}/nothing-here-{probe}").status_code == 404
    assert httpx.post(f"{server.url}/api/v1/messages?probe={probe}", json={}).status_code == 401

    # A marker request after them: once its line is written, a second line for either
    # error would be too.
    marker = uuid.uuid4().hex
    assert httpx.get(f"{server.url}/nothing-here-{marker}").status_code == 404

    def mentions(word: str) -> list[dict[str, Any]]:
        return [line for line in log_lines(server) if word in json.dumps(line)]

    wait_until(lambda: mentions(marker))
    lines = mentions(probe)
    assert len(lines) == 2, lines
    assert {line["logger"] for line in lines} == {"granian.access"}
    assert sorted(line["status"] for line in lines) == [401, 404]


# Last: from here on this address may send no callback for a window (the emulator neither).
def test_guessing_a_callback_secret_is_counted_refused_then_rate_limited(
    server: LiveServer,
) -> None:
    statuses = [
        httpx.post(f"{server.url}/hooks/kore/demo/not-the-secret-at-all/", json={}).status_code
        for _ in range(3)
    ]
    assert statuses == [404, 429, 429]
    samples = scrape(server)
    assert samples['kore_chat_callbacks_total{bot="demo",outcome="refused"}'] == 1
    assert samples['kore_chat_rate_limited_total{rule="callback-refusals-ip"}'] == 2
