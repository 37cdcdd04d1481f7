"""Bearer-token authentication shared by the DRF views and the long-poll handler, and the
Django-session path of verified identities (the only API path that reads cookies, so the
only one that checks CSRF)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from webclient.errors import ApplicationError, Kind
from webclient.sts import Principal, token_verify


def bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApplicationError(
            "invalid_token",
            "Send the token from /api/v1/sts as 'Authorization: Bearer <jwt>'.",
            Kind.UNAUTHENTICATED,
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


class SessionUser(BaseAuthentication):
    """The logged-in Django user, if any, for the token request. No CSRF check here: the
    view checks it only when it actually uses the session (`session_user_pk`)."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        user = getattr(request._request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        return user, None


def session_user_pk(request: Request) -> Any:
    """The logged-in Django user's pk, once the request passed Django's CSRF check.

    None without a logged-in session. A cross-site page could otherwise make a visitor's
    browser ask for a token in that visitor's name.
    """
    user = request.user
    if user is None or not user.is_authenticated:
        return None
    try:
        SessionAuthentication().enforce_csrf(request)
    except exceptions.PermissionDenied:
        raise ApplicationError(
            "csrf_failed",
            "A token for the logged-in user needs the CSRF token in the X-CSRFToken header.",
            Kind.FORBIDDEN,
        ) from None
    return user.pk
