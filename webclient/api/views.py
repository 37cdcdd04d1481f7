"""The widget API: one view per operation, thin — parse, call a service, serialise.

Token-authenticated routes are CSRF-exempt by design: they never read cookies, so a
cross-site page cannot ride on the browser's credentials (DRF enforces CSRF only for
session authentication, which these views do not use). The one exception is the token
request of a verified bot made with a logged-in Django session: that path reads the session
cookie, so it checks CSRF (webclient/api/auth.py).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, cast

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webclient import attachments, logs, selectors, services, sharedcache, sts
from webclient.api.auth import HasChatToken, SessionUser, session_user_pk
from webclient.api.errors import DATABASE_DOWN, database_unavailable
from webclient.api.longpoll import answer_django_request
from webclient.api.permissions import OriginAllowed
from webclient.api.serializers import (
    ErrorSerializer,
    MessageOutputSerializer,
    PollOutputSerializer,
    SendOutputSerializer,
)
from webclient.api.throttles import SendPerIdentity, SendPerIp, StsPerIp
from webclient.delivery import notifier
from webclient.errors import ApplicationError, Kind
from webclient.models import Bot
from webclient.page_context import page_context_clean
from webclient.security.upstream import UpstreamNotAllowed, check_upstream
from webclient.sts import Principal

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4000
POLL_METHODS = frozenset({"GET", "HEAD"})


class StsView(APIView):
    """Issue a token; compatible with Kore SDKApp's /api/users/sts."""

    authentication_classes = [SessionUser]
    permission_classes = [OriginAllowed]
    throttle_classes = [StsPerIp]

    @extend_schema_serializer(component_name="Sts")
    class InputSerializer(serializers.Serializer):
        bot = serializers.SlugField(required=False)
        identity = serializers.CharField(required=False, allow_blank=True, max_length=255)
        identityHash = serializers.CharField(required=False, allow_blank=True, max_length=128)
        # Kore's Web SDK names its bot by clientId (without `bot`). A clientSecret is
        # accepted for SDKApp compatibility and ignored: secrets live on the server only,
        # and anonymity is decided by the bot's identity mode.
        clientId = serializers.CharField(required=False, allow_blank=True, max_length=64)
        clientSecret = serializers.CharField(required=False, allow_blank=True)
        isAnonymous = serializers.BooleanField(required=False)
        aud = serializers.CharField(required=False, allow_blank=True)

    @extend_schema_serializer(component_name="Token")
    class OutputSerializer(serializers.Serializer):
        jwt = serializers.CharField()
        identity = serializers.CharField()
        bot = serializers.CharField()
        expiresAt = serializers.DateTimeField(source="expires_at")

    @extend_schema(
        tags=["identity"],
        summary="A chat token for a user of a bot",
        description="Without a trusted identity the user is anonymous and the server "
        "chooses the identity. Also at /api/users/sts (Kore SDKApp's route); without `bot`, "
        "Kore's clientId names the bot; a clientSecret from a browser is ignored.",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            429: ErrorSerializer,
            503: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        bot = sts_bot(data.validated_data.get("bot"), data.validated_data.get("clientId"))
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


def sts_bot(slug: str | None, client_id: str | None) -> Bot:
    """The bot a token request names: by `bot`, else by Kore's clientId, else the default."""
    if slug or not client_id:
        return selectors.bot_get(slug=slug)
    bot = selectors.bot_for_client(client_id=client_id)
    if bot is None:
        raise ApplicationError("unknown_bot", "There is no such bot.", Kind.NOT_FOUND)
    return bot


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

    @extend_schema(
        operation_id="sts_refresh",
        tags=["identity"],
        summary="A new token for the same user, for one still valid",
        request=None,
        responses={
            200: StsView.OutputSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            429: ErrorSerializer,
            503: ErrorSerializer,
        },
    )
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
    """POST sends a user message; GET (and HEAD) is the long-poll, whose one implementation,
    checks included, is webclient/api/longpoll.py's: DRF's are skipped for it."""

    permission_classes = [HasChatToken, OriginAllowed]
    throttle_classes = [SendPerIdentity, SendPerIp]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method not in POLL_METHODS:
            super().initial(request, *args, **kwargs)

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
        # The widget's language: V2 bots get it as Kore's interactiveLanguage.
        language = serializers.ChoiceField(
            choices=[code for code, _ in settings.LANGUAGES], required=False
        )
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

    @extend_schema(
        operation_id="message_send",
        tags=["messages"],
        summary="Send a user message (text, postback, form data or event)",
        description="202 with the message accepted; the same clientMessageId again answers "
        "200 with the first message, which is forwarded to the bot once.",
        request=SendInputSerializer,
        responses={
            202: SendOutputSerializer,
            200: SendOutputSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            413: ErrorSerializer,
            415: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
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

    @extend_schema(
        operation_id="messages_poll",
        tags=["messages"],
        summary="The long-poll: messages after a cursor, held until one arrives",
        description="Answers at once with every message whose id is above `after`, oldest "
        "first; with none, holds the request until one arrives or `wait` seconds pass "
        "(default LONGPOLL_DEFAULT_WAIT, capped at LONGPOLL_MAX_WAIT), then answers an "
        "empty list. HEAD answers at once.",
        parameters=[
            OpenApiParameter("after", int, description="The cursor of the last answer; 0: all."),
            OpenApiParameter("wait", int, description="Seconds to hold an empty answer."),
        ],
        responses={
            200: PollOutputSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        return answer_django_request(request._request)


class HealthView(APIView):
    authentication_classes: list[Any] = []

    @extend_schema(
        operation_id="healthz",
        tags=["operations"],
        summary="Liveness: the process answers",
        responses={200: inline_serializer("Health", {"status": serializers.CharField()})},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


READINESS_PATH = "/readyz"


class ReadinessLog:
    """Readiness as it changes, once per change in this process: a probe asks every few
    seconds, and a line per probe would bury everything else. Not ready is a WARNING
    naming why; ready again is INFO. Django's own ERROR line for each 503 of this route is
    dropped (webclient/logs.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: str | None = None

    def now(self, state: str, why: str = "") -> None:
        with self._lock:
            previous, self._state = self._state, state
        if state == previous:
            return
        if state != "ready":
            log.warning("not ready (%s): %s", state, why)
        elif previous is not None:
            log.info("ready again")


readiness = ReadinessLog()


class ReadyView(APIView):
    """Ready when the database answers and every enabled bot's upstream may be called.

    Without the database nothing works: 503 `database_unavailable`. Without the shared cache
    (Redis) or this worker's notifier listener everything still works, only less well
    (sharedcache.py, delivery/): 200 with `"status": "degraded"` and what is `down`, so
    that a load balancer keeps every worker while a dependency they all share is away.
    """

    authentication_classes: list[Any] = []

    @extend_schema(
        operation_id="readyz",
        tags=["operations"],
        summary="Readiness: the database answers and a bot may be relayed",
        responses={
            200: inline_serializer(
                "Ready", {"status": serializers.CharField(), "bots": serializers.IntegerField()}
            ),
            503: ErrorSerializer,
        },
    )
    def get(self, request: Request) -> Response:
        try:
            answer = self._ready()
        except ApplicationError as exc:
            readiness.now(exc.code, exc.message + "".join(f" {v}" for v in exc.extra.values()))
            raise
        readiness.now("ready")
        return answer

    def _ready(self) -> Response:
        try:
            connection.ensure_connection()
            bots = list(Bot.objects.filter(enabled=True))
        except DATABASE_DOWN:
            raise database_unavailable() from None
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
        down = []
        if settings.REDIS_URL and not sharedcache.reachable():
            down.append("redis")
        if not notifier.listening():
            down.append("notifier")
        if down:
            return Response({"status": "degraded", "bots": len(bots), "down": down})
        return Response({"status": "ready", "bots": len(bots)})
