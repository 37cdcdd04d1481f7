"""`GET /api/schema/`: the OpenAPI 3.1 schema of the public HTTP API (docs/api.md in words).

drf-spectacular describes the DRF views from their serializers and `extend_schema`
annotations. The routes served outside DRF are added here by a post-processing hook, in
the same shapes: the Kore callback (POST_URL) and the attachment links are plain Django
views, and the pages (chat page, theme, translations) and `/metrics` answer HTML, CSS,
JavaScript or text. The long-poll (`GET /api/v1/messages`) is described by the DRF view,
which hands it to its one implementation, the bare handler of webclient/api/longpoll.py.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.views import SpectacularJSONAPIView

ERROR = {"$ref": "#/components/schemas/Error"}


class ChatTokenScheme(OpenApiAuthenticationExtension):
    target_class = "webclient.api.auth.BearerTokenAuthentication"
    name = "chatToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "The `jwt` of `POST /api/v1/sts`.",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "webclient.api.auth.SessionUser"
    name = "session"

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        # Anyone may ask for a token; a session only names a verified bot's user.
        return [{}, {self.name: []}]

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "A logged-in Django session: the identity of a verified bot's "
            "user when no identityHash is sent (CSRF-checked).",
        }


class SchemaView(SpectacularJSONAPIView):
    """The schema as JSON, to anyone: it describes only what is public."""


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(ERROR, description)


def _text(media_type: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}


def _path_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


def _query_parameter(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string"}, "description": description}


CALLBACK_ANSWER = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["stored", "duplicate", "undeliverable"]},
        "stored": {"type": "integer", "description": "Messages stored from this body."},
        "reason": {"type": "string", "description": "Why nothing was stored, or empty."},
    },
    "required": ["status", "stored", "reason"],
}

ROUTES_OUTSIDE_DRF: dict[str, dict[str, Any]] = {
    "/hooks/kore/{slug}/{secret}/": {
        "post": {
            "operationId": "kore_callback",
            "tags": ["callbacks"],
            "summary": "The POST_URL: the platform's asynchronous bot messages",
            "description": "Called by Kore's platform, not by browsers: the callback secret in "
            "the path authenticates it. V1 and V2 bodies; a repeated delivery is stored once. "
            "Unknown bot and wrong secret answer the same 404; an address refused too often "
            "gets 429 until its window ends.",
            "parameters": [
                _path_parameter("slug", "The bot's slug."),
                _path_parameter("secret", "The bot's callback secret."),
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "200": _json(
                    CALLBACK_ANSWER, "Received (stored, a duplicate, or kept as undeliverable)"
                ),
                "400": _error("The body is not a JSON object"),
                "404": _error("Unknown bot or wrong secret"),
                "413": _error("The body is larger than KORE_CALLBACK_MAX_BYTES"),
                "429": _error("Too many refused callbacks from this address"),
            },
        }
    },
    "/attachments/{signed}": {
        "get": {
            "operationId": "attachment_file",
            "tags": ["attachments"],
            "summary": "A user's file, through its signed, expiring link",
            "description": "The links come from the attachments of messages and uploads; "
            "the platform fetches files through them.",
            "parameters": [_path_parameter("signed", "The signed key of the link.")],
            "responses": {
                "200": {
                    "description": "The file, in its own content type",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "404": _text("text/html", "No such file, or the link has expired"),
            },
        }
    },
    "/": {
        "get": {
            "operationId": "chat_page",
            "tags": ["pages"],
            "summary": "The full-page chat widget",
            "parameters": [
                _query_parameter("bot", "The bot's slug (DEFAULT_BOT when absent)."),
                _query_parameter("lang", "The interface language: en or ar."),
                _query_parameter("identity", "A verified bot's user id."),
                _query_parameter("identityHash", "hex(HMAC-SHA256(identity secret, identity))."),
            ],
            "responses": {
                "200": _text("text/html", "The page"),
                "404": _text("text/html", "No enabled bot by that name: says so, input disabled"),
            },
        }
    },
    "/theme/{slug}.css": {
        "get": {
            "operationId": "theme_stylesheet",
            "tags": ["pages"],
            "summary": "A bot's theme as CSS custom properties",
            "parameters": [_path_parameter("slug", "The bot's slug.")],
            "responses": {"200": _text("text/css", "The stylesheet (the defaults for no bot)")},
        }
    },
    "/jsi18n/{lang}.js": {
        "get": {
            "operationId": "js_catalog",
            "tags": ["pages"],
            "summary": "The widget's translations for one language",
            "parameters": [_path_parameter("lang", "en or ar (English for others).")],
            "responses": {"200": _text("text/javascript", "The catalogue")},
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "tags": ["operations"],
            "summary": "Prometheus metrics (docs/operations.md)",
            "description": "Only with METRICS_TOKEN set (else 404), to its bearer.",
            "security": [{"metricsToken": []}],
            "responses": {
                "200": _text("text/plain", "The Prometheus text format"),
                "401": _text("text/plain", "No or wrong bearer token"),
                "404": _text("text/html", "METRICS_TOKEN is not set"),
            },
        }
    },
}


def routes_outside_drf(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular's post-processing hook: the routes that are not DRF views."""
    result["paths"].update(ROUTES_OUTSIDE_DRF)
    schemes = result.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["metricsToken"] = {"type": "http", "scheme": "bearer"}
    return result
