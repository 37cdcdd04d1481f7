"""Bearer-token authentication shared by the DRF views and the long-poll handler."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from webclient.api.errors import ApiError
from webclient.sts import Principal, token_verify


def bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "invalid_token",
            "Send the token from /api/v1/sts as 'Authorization: Bearer <jwt>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Principal, str] | None:
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        token = bearer_token(header)
        return token_verify(token), token

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class HasChatToken(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, Principal)
