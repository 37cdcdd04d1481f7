"""`/api/schema/`: the OpenAPI schema covers every public route, and real answers of a real
server (granian, so the long-poll and /healthz come from their bare ASGI handlers) match it:
status, content type and, for JSON, the body against the schema's JSON Schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from jsonschema import Draft202012Validator

from tests.liveserver import LiveServer

METRICS_TOKEN = "metrics-token-for-the-schema-test"
# Routes that are not our API: the operator's admin, the development gallery, the embedded
# emulator (a stand-in for Kore, docs/emulator.md), and the Kore-compatible routes for
# Kore's Web SDK, whose shapes are Kore's (docs/kore-sdk.md, tests/kore/test_kore_sdk_routes.py).
NOT_PUBLIC = ("admin/", "gallery/", "emulator/", "kore/")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(
        tmp_path_factory.mktemp("schema") / "db.sqlite3",
        {"METRICS_TOKEN": METRICS_TOKEN, "RATELIMIT_ENABLED": "false"},
    )
    live.migrate()
    live.start()
    yield live
    live.stop()


class Checked:
    """Answers checked against the schema, and which operations they covered."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.covered: set[tuple[str, str]] = set()

    def __call__(self, template: str, answer: httpx.Response) -> httpx.Response:
        method = answer.request.method.lower()
        operation = self.schema["paths"][template][method]
        status = str(answer.status_code)
        assert status in operation["responses"], f"{method} {template}: {status} {answer.text}"
        content = operation["responses"][status].get("content", {})
        media_type = answer.headers.get("content-type", "").split(";")[0].strip()
        assert media_type in content or "*/*" in content, (method, template, media_type)
        if media_type == "application/json":
            body_schema = {
                **content[media_type]["schema"],
                "components": self.schema["components"],
            }
            errors = list(Draft202012Validator(body_schema).iter_errors(answer.json()))
            assert not errors, f"{method} {template} {status}: {errors[0].message}"
        self.covered.add((template, method))
        return answer


def public_routes() -> set[str]:
    """Every route the URL configuration serves, in OpenAPI's spelling, minus NOT_PUBLIC."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[str]:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if route.startswith(NOT_PUBLIC):
                continue
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern):
                yield "/" + route

    routes = set(walk(get_resolver().url_patterns, ""))
    for converter in ("slug:", "str:"):
        routes = {route.replace(f"<{converter}", "{").replace(">", "}") for route in routes}
    return {route.replace("<", "{").replace(">", "}") for route in routes}


def test_the_schema_lists_every_public_route_including_the_bare_long_poll(
    server: LiveServer,
) -> None:
    answer = httpx.get(f"{server.url}/api/schema/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    schema = answer.json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == public_routes()
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/messages"])


def test_real_answers_of_every_public_route_match_the_schema(
    server: LiveServer, tmp_path: Path
) -> None:
    schema = httpx.get(f"{server.url}/api/schema/").json()
    check = Checked(schema)
    http = httpx.Client(base_url=server.url, timeout=30)
    check("/api/schema/", http.get("/api/schema/"))

    # Identity.
    token = check("/api/v1/sts", http.post("/api/v1/sts", json={"bot": "demo"})).json()
    check("/api/users/sts", http.post("/api/users/sts", data={"bot": "demo"}))
    check("/api/v1/sts", http.post("/api/v1/sts", json={"bot": "no such bot"}))
    check("/api/v1/sts", http.post("/api/v1/sts", json={"bot": "nosuchbot"}))
    check("/api/v1/sts/refresh", http.post("/api/v1/sts/refresh"))
    bearer = {"Authorization": f"Bearer {token['jwt']}"}
    check("/api/v1/sts/refresh", http.post("/api/v1/sts/refresh", headers=bearer))

    # Messages: send, the same again, bad input; the long-poll (served outside DRF).
    body = {"text": "hello", "clientMessageId": str(uuid.uuid4())}
    sent = check("/api/v1/messages", http.post("/api/v1/messages", json=body, headers=bearer))
    assert sent.status_code == 202
    again = check("/api/v1/messages", http.post("/api/v1/messages", json=body, headers=bearer))
    assert again.status_code == 200
    check("/api/v1/messages", http.post("/api/v1/messages", json={"text": "x"}, headers=bearer))
    check("/api/v1/messages", http.post("/api/v1/messages", content="{", headers=bearer))
    check("/api/v1/messages", http.get("/api/v1/messages", params={"after": 0, "wait": 0}))
    check("/api/v1/messages", http.get("/api/v1/messages?after=x", headers=bearer))
    cursor, answered = 0, list[dict[str, Any]]()
    while not any(m["role"] == "bot" for m in answered):
        poll = http.get("/api/v1/messages", params={"after": cursor, "wait": 10}, headers=bearer)
        check("/api/v1/messages", poll)
        answered += poll.json()["messages"]
        cursor = poll.json()["cursor"]

    # Attachments: upload, the file through its link, a refused type, a dead link.
    upload = check(
        "/api/v1/attachments",
        http.post(
            "/api/v1/attachments",
            files={"file": ("notes.txt", b"some notes\n", "text/plain")},
            headers=bearer,
        ),
    )
    assert upload.status_code == 201
    check(
        "/api/v1/attachments",
        http.post(
            "/api/v1/attachments",
            files={"file": ("x.exe", b"MZ\x90\x00\x03" + bytes(200), "application/octet-stream")},
            headers=bearer,
        ),
    )
    check("/attachments/{signed}", http.get(upload.json()["url"]))
    check("/attachments/{signed}", http.get("/attachments/forged"))

    # Kore's callback: the right secret, then a wrong one.
    secret = server.shell(
        "from webclient.models import Bot\n"
        "print(Bot.objects.get(slug='demo-v2-async').callback_secret)"
    )
    callback = "/hooks/kore/{slug}/{secret}/"
    check(callback, http.post(f"/hooks/kore/demo-v2-async/{secret}/", json={}))
    check(callback, http.post("/hooks/kore/demo-v2-async/wrong-secret/", json={}))
    check(callback, http.post(f"/hooks/kore/demo-v2-async/{secret}/", json=[1]))

    # Pages and operations.
    check("/", http.get("/", params={"bot": "demo"}))
    check("/theme/{slug}.css", http.get("/theme/demo.css"))
    check("/jsi18n/{lang}.js", http.get("/jsi18n/ar.js"))
    check("/healthz", http.get("/healthz"))
    check("/readyz", http.get("/readyz"))
    check("/metrics", http.get("/metrics"))
    check("/metrics", http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}))

    operations = {
        (path, method)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert check.covered == operations
