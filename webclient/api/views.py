"""The widget API: one view per operation, thin — parse, call a service, serialise.

Token-authenticated routes are CSRF-exempt by design: they never read cookies, so a
cross-site page cannot ride on the browser's credentials (DRF enforces CSRF only for
session authentication, which these views do not use). The one exception is the token
request of a verified bot made with a logged-in Django session: that path reads the session
cookie, so it checks CSRF (webclient/api/auth.py).
"""

from __future__ import annotations

import logging
from typing import Any, cast

from asgiref.sync import async_to_sync
from django.db import connection
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webclient import attachments, logs, selectors, services, sts
from webclient.api.auth import HasChatToken, SessionUser, session_user_pk
from webclient.api.longpoll import poll_answer, poll_params
from webclient.api.permissions import OriginAllowed
from webclient.api.serializers import MessageOutputSerializer
from webclient.api.throttles import SendPerIdentity, SendPerIp, StsPerIp
from webclient.errors import ApplicationError, Kind
from webclient.models import Bot
from webclient.page_context import page_context_clean
from webclient.security.upstream import UpstreamNotAllowed, check_upstream
from webclient.sts import Principal

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4000


class StsView(APIView):
    """Issue a token; compatible with Kore SDKApp's /api/users/sts."""

    authentication_classes = [SessionUser]
    permission_classes = [OriginAllowed]
    throttle_classes = [StsPerIp]

    class InputSerializer(serializers.Serializer):
        bot = serializers.SlugField(required=False)
        identity = serializers.CharField(required=False, allow_blank=True, max_length=255)
        identityHash = serializers.CharField(required=False, allow_blank=True, max_length=128)
        # Accepted for SDKApp compatibility and ignored: secrets live on the server only,
        # and anonymity is decided by the bot's identity mode.
        clientId = serializers.CharField(required=False, allow_blank=True)
        clientSecret = serializers.CharField(required=False, allow_blank=True)
        isAnonymous = serializers.BooleanField(required=False)
        aud = serializers.CharField(required=False, allow_blank=True)

    class OutputSerializer(serializers.Serializer):
        jwt = serializers.CharField()
        identity = serializers.CharField()
        bot = serializers.CharField()
        expiresAt = serializers.DateTimeField(source="expires_at")

    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        bot = selectors.bot_get(slug=data.validated_data.get("bot"))
        self.check_object_permissions(request, bot)
        identity_hash = data.validated_data.get("identityHash")
        # The session path is the only one that reads cookies, hence the CSRF check inside.
        session_pk = (
            session_user_pk(request)
            if bot.identity_mode == Bot.IdentityMode.VERIFIED and not identity_hash
            else None
        )
        chosen = sts.identity_choose(
            bot=bot,
            identity=data.validated_data.get("identity"),
            identity_hash_value=identity_hash,
            session_user_pk=session_pk,
        )
        token = sts.token_issue(
            bot=bot, identity=chosen.identity, anonymous=chosen.anonymous, proof=chosen.proof
        )
        return Response(token_output(bot, token))


def token_output(bot: Bot, token: sts.IssuedToken) -> dict[str, Any]:
    output = {
        "jwt": token.jwt,
        "identity": token.identity,
        "bot": bot.slug,
        "expires_at": token.expires_at,
    }
    return dict(StsView.OutputSerializer(output).data)


class StsRefreshView(APIView):
    """A new token for the same identity and bot, in exchange for one still valid.

    Anonymous identities are resumable only with their token: refreshing before it expires
    is how a widget keeps its conversation past STS_TOKEN_LIFETIME.
    """

    permission_classes = [HasChatToken, OriginAllowed]
    throttle_classes = [StsPerIp]

    def post(self, request: Request) -> Response:
        principal = cast(Principal, request.user)
        return Response(token_output(principal.bot, sts.token_refresh(principal)))


class PostbackSerializer(serializers.Serializer):
    payload = serializers.CharField(max_length=MAX_TEXT_LENGTH)
    title = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)


class FormEntrySerializer(serializers.Serializer):
    componentId = serializers.CharField(max_length=128)
    input = serializers.JSONField()


class FormDataSerializer(serializers.Serializer):
    formId = serializers.CharField(max_length=128)
    data = FormEntrySerializer(many=True, max_length=500)  # type: ignore[call-arg,assignment]


class MessagesView(APIView):
    """POST sends a user message; GET is the long-poll (also served by longpoll.py)."""

    permission_classes = [HasChatToken, OriginAllowed]
    throttle_classes = [SendPerIdentity, SendPerIp]

    def get_throttles(self) -> list[Any]:
        # Only sending is limited: a long-poll is answered from this server's own data.
        return super().get_throttles() if self.request.method == "POST" else []

    class SendInputSerializer(serializers.Serializer):
        clientMessageId = serializers.CharField(max_length=64)
        text = serializers.CharField(
            required=False, max_length=MAX_TEXT_LENGTH, trim_whitespace=False
        )
        postback = PostbackSerializer(required=False)
        formData = FormDataSerializer(required=False)
        event = serializers.ChoiceField(choices=["ON_CONNECT", "SESSION_CLOSURE"], required=False)
        # The embedding page's customData and metaTags (webclient/page_context.py).
        pageContext = serializers.DictField(required=False)
        # Ids of files uploaded to /api/v1/attachments, sent with a text.
        attachments = serializers.ListField(
            child=serializers.CharField(max_length=64),
            required=False,
            min_length=1,
            max_length=attachments.MAX_PER_MESSAGE,
        )

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            given = [key for key in ("text", "postback", "formData", "event") if key in attrs]
            if len(given) != 1:
                raise serializers.ValidationError(
                    "Send exactly one of text, postback, formData or event."
                )
            if "text" in attrs and not attrs["text"].strip():
                raise serializers.ValidationError({"text": "The text is empty."})
            if "attachments" in attrs and "text" not in attrs:
                raise serializers.ValidationError({"attachments": "Attachments go with a text."})
            return attrs

    def post(self, request: Request) -> Response:
        principal = cast(Principal, request.user)
        data = self.SendInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = {k: v for k, v in data.validated_data.items() if k != "clientMessageId"}
        if "pageContext" in body:
            body["pageContext"] = page_context_clean(principal.bot, body["pageContext"])
            if not body["pageContext"]:
                del body["pageContext"]
        if "attachments" in body:
            attachments.attachments_check(
                bot=principal.bot, identity=principal.identity, keys=body["attachments"]
            )
        message, created = services.user_message_accept(
            bot=principal.bot,
            identity=principal.identity,
            body=body,
            client_message_id=data.validated_data["clientMessageId"],
        )
        log.info("message %s accepted (new: %s)", message.pk, created, extra=logs.about(message))
        return Response(
            {"message": MessageOutputSerializer(message).data, "cursor": message.pk},
            status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
        )

    def get(self, request: Request) -> Response:
        principal = cast(Principal, request.user)
        after, wait = poll_params(request.query_params.dict())
        answer = async_to_sync(poll_answer)(principal, after, wait)
        return Response(answer, headers={"Cache-Control": "no-store"})


class HealthView(APIView):
    authentication_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadyView(APIView):
    """Ready when the database answers and every enabled bot's upstream may be called."""

    authentication_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        connection.ensure_connection()
        bots = list(Bot.objects.filter(enabled=True))
        if not bots:
            raise ApplicationError("no_bots", "No enabled bot is configured.", Kind.UNAVAILABLE)
        refused = []
        for bot in bots:
            try:
                check_upstream(bot.upstream_url)
            except UpstreamNotAllowed:
                refused.append(bot.slug)
        if refused:
            raise ApplicationError(
                "upstream_not_allowed",
                "Some bots' upstream URLs are not allowed by the server's settings.",
                Kind.UNAVAILABLE,
                extra={"bots": refused},
            )
        return Response({"status": "ready", "bots": len(bots)})
