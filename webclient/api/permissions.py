"""Which callers a bot answers, as DRF permissions (the decision is webclient/bot_origins.py)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from webclient import bot_origins
from webclient.models import Bot
from webclient.sts import Principal


class OriginAllowed(BasePermission):
    """403 origin_not_allowed for a cross-origin caller the bot does not list.

    With a chat token the bot is the token's; the token request names its bot in the body,
    so that view checks the bot as its object (`check_object_permissions`) once it has it.
    The refusal is raised rather than returned: DRF would turn a refusal on a view whose
    caller is not logged in into a 401.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.user, Principal):
            return self._allowed(request, request.user.bot)
        return True

    def has_object_permission(self, request: Request, view: Any, obj: Bot) -> bool:
        return self._allowed(request, obj)

    @staticmethod
    def _allowed(request: Request, bot: Bot) -> bool:
        if not bot_origins.request_origin_allowed(request, bot):
            raise bot_origins.origin_not_allowed()
        return True
