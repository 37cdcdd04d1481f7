"""The Kore-compatible routes (mounted at /kore/): thin views over the services and
selectors, answering in the shapes Kore's Web SDK reads (`shapes`).

The SDK's request queue has one request in flight, so nothing here holds a request for
long: a send waits at most KORE_SDK_SEND_WAIT seconds for what the bot says, and a poll
answers at once. Errors leave in Kore's own shape, `{"errors": [{"msg", "code"}]}`, with
the status (and Retry-After) our API gives them.
"""

from __future__ import annotations

import math
import time
from typing import Any, cast

from asgiref.sync import async_to_sync
from csp.decorators import csp_replace
from django.conf import settings
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webclient import attachments, bot_origins, selectors, services
from webclient.api import errors
from webclient.api.auth import HasChatToken, bearer_token
from webclient.api.longpoll import poll_answer
from webclient.api.permissions import OriginAllowed
from webclient.api.serializers import messages_output
from webclient.api.throttles import SendPerIdentity, SendPerIp
from webclient.api.views import MAX_TEXT_LENGTH, FormDataSerializer
from webclient.errors import ApplicationError, Kind
from webclient.kore.payloads import forwarded_upstream
from webclient.kore_sdk import selectors as sdk_selectors
from webclient.kore_sdk import shapes
from webclient.models import Bot, Conversation, Message
from webclient.sts import Principal

HISTORY_DEFAULT_LIMIT = 10
HISTORY_MAX_LIMIT = 100
# The bot's avatar when it has none (botmeta's `icon`): a small inline SVG.
DEFAULT_ICON = (
    "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'>"
    "<circle cx='16' cy='16' r='16' fill='%235b5fc7'/></svg>"
)


def kore_errors(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Our API's exception handler, with the body in Kore's error shape."""
    response = errors.exception_handler(exc, context)
    if response is not None:
        error = response.data.get("error", {}) if isinstance(response.data, dict) else {}
        response.data = {
            "errors": [{"msg": error.get("message", ""), "code": response.status_code}]
        }
    return response


@extend_schema(exclude=True)
class KoreView(APIView):
    """A token-authenticated SDK route of the token's bot, from an origin the bot allows.
    Not in our OpenAPI schema: the shapes are Kore's (docs/kore-sdk.md)."""

    permission_classes = [HasChatToken, OriginAllowed]

    def get_exception_handler(self) -> Any:
        return kore_errors

    @staticmethod
    def principal(request: Request, bot_id: str, instance_id: str = "") -> Principal:
        """The caller, when the path names its bot (and hook instance, if any)."""
        principal = cast(Principal, request.user)
        bot = principal.bot
        if bot_id != bot.bot_id or (instance_id and instance_id != bot.hook_instance_id):
            raise ApplicationError("unknown_bot", "There is no such bot.", Kind.NOT_FOUND)
        return principal


def channel_check(bot: Bot, channel_type: str) -> None:
    """The SDK's channelType: "ivr", or the hook instance its webhookURL names."""
    if channel_type not in ("ivr", bot.hook_instance_id or "ivr"):
        raise ApplicationError("unknown_channel", "No such channel.", Kind.NOT_FOUND)


def _conversation(principal: Principal) -> Conversation:
    return services.conversation_get_or_create(bot=principal.bot, identity=principal.identity)


def _form_link(request: Request, conversation_id: int, message_id: int) -> str:
    token = shapes.form_link_token(conversation_id, message_id)
    return request.build_absolute_uri(reverse("kore-sdk-form", args=[token]))


def _entries(
    request: Request, conversation_id: int, messages: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    found = []
    for message in messages:
        link = _form_link(request, conversation_id, message["id"])
        found.extend(shapes.bot_entries(message, link))
    return found


def _chain_alive(conversation_id: int) -> bool:
    """The bot may still speak: it is working, or the last message is recent enough."""
    return sdk_selectors.chain_alive(
        conversation_id=conversation_id, life=settings.KORE_SDK_POLL_CHAIN
    )


def _answer(version: int, entries: list[dict[str, Any]], poll_id: str | None) -> dict[str, Any]:
    """A V2 answer (`_v`, `data`) or a V1 one (`text` as a list: the SDK's V1 reader needs
    one); a pollId while more may come."""
    body: dict[str, Any] = {"_v": "v2", "data": entries} if version == 2 else {"text": entries}
    if poll_id is not None:
        body["pollId"] = poll_id
        if version == 2 and not entries:
            body["status"] = "Inprogress"
    return body


class SdkAttachmentSerializer(serializers.Serializer):
    """Kore's attachment object as the SDK's file-upload plugin builds it: the `fileId` our
    upload answered (uploads.py); its name and type are ours, from the stored file."""

    fileId = serializers.CharField(max_length=64)
    fileName = serializers.CharField(required=False, allow_blank=True)
    fileType = serializers.CharField(required=False, allow_blank=True)


class SdkMessageSerializer(serializers.Serializer):
    type = serializers.CharField(required=False, max_length=20)
    val = serializers.JSONField(required=False)
    text = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH, trim_whitespace=False
    )
    attachments = serializers.ListField(
        child=SdkAttachmentSerializer(),
        required=False,
        min_length=1,
        max_length=attachments.MAX_PER_MESSAGE,
    )


class SendInputSerializer(serializers.Serializer):
    """What the SDK POSTs; `from`, `to` and `session` are Kore's and decided here by the
    token and the relay."""

    message = SdkMessageSerializer()

    def validate_message(self, message: dict[str, Any]) -> services.UserBody:
        kind, val = message.get("type"), message.get("val")
        files = [a["fileId"] for a in message.get("attachments", [])]
        if kind == "event" and val in ("ON_CONNECT", "SESSION_CLOSURE") and not files:
            return {"event": val}
        if kind in (None, "text"):
            words = val if kind == "text" else message.get("text")
            if words is None and files:
                words = ""
            # A text may be blank when it carries files (their names go upstream instead).
            if (
                isinstance(words, str)
                and (words.strip() or files)
                and len(words) <= MAX_TEXT_LENGTH
            ):
                return {"text": words, "attachments": files} if files else {"text": words}
        raise serializers.ValidationError("Send a text or an ON_CONNECT or SESSION_CLOSURE event.")


class SendView(KoreView):
    """POST {webhookURL}: Kore's V1 (`chatbot/hooks/…`) and V2 (`chatbot/v2/webhook/…`)."""

    throttle_classes = [SendPerIdentity, SendPerIp]
    version = 2

    def post(self, request: Request, bot_id: str, instance_id: str = "") -> Response:
        raw = request.body
        principal = self.principal(request, bot_id, instance_id)
        data = SendInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data["message"]
        if "attachments" in body:
            attachments.attachments_check(
                bot=principal.bot, identity=principal.identity, keys=body["attachments"]
            )
        conversation = _conversation(principal)
        token = bearer_token(request.headers.get("Authorization"))
        slot = int(time.time()) // shapes.RETRY_SLOT
        key = shapes.retry_key(token, raw, slot)
        earlier = shapes.retry_key(token, raw, slot - 1)
        if sdk_selectors.message_with_client_id(
            conversation=conversation, client_message_id=earlier
        ):
            key = earlier
        message, _ = services.user_message_accept(
            bot=principal.bot, identity=principal.identity, body=body, client_message_id=key
        )
        entries = []
        if forwarded_upstream(principal.bot, message):
            said, after, pending = self._said(principal, message.pk)
            entries = _entries(request, conversation.pk, said)
        else:
            # Not for the platform (an event to a V1 bot): the bot's welcome text, as the
            # widget shows it.
            after, pending = message.pk, False
            if "event" in body and body["event"] == "ON_CONNECT":
                entries = self._welcome(principal.bot)
        alive = pending or _chain_alive(conversation.pk)
        cursor = shapes.PollCursor(conversation.pk, after, message.pk)
        poll_id = shapes.poll_id_issue(cursor) if alive else None
        return Response(_answer(self.version, entries, poll_id))

    @staticmethod
    def _said(principal: Principal, after: int) -> tuple[list[dict[str, Any]], int, bool]:
        """What the bot says within KORE_SDK_SEND_WAIT: until its first messages, or until
        it is done."""
        deadline = time.monotonic() + settings.KORE_SDK_SEND_WAIT
        said: list[dict[str, Any]] = []
        while True:
            remaining = deadline - time.monotonic()
            wait = max(0, math.ceil(remaining))
            answer = async_to_sync(poll_answer)(principal, after, wait)
            said.extend(answer["messages"])
            after, pending = answer["cursor"], answer["pending"]
            shown = [m for m in said if m["role"] != Message.Role.USER]
            if shown or not pending or remaining <= 0:
                return said, after, pending

    @staticmethod
    def _welcome(bot: Bot) -> list[dict[str, Any]]:
        if not bot.theme_welcome_text:
            return []
        return [
            {
                "type": "text",
                "val": bot.theme_welcome_text,
                "messageId": f"welcome-{bot.pk}",
                "createdOn": timezone.now().isoformat(),
            }
        ]


class SendV1View(SendView):
    version = 1


class PollView(KoreView):
    """GET …/chatbot/v2/webhook/{streamId}/poll/{pollId}: answered at once (never held:
    the SDK's queue would block its sends), with what was stored after the pollId's
    cursor, and a new pollId while the chain is alive (KORE_SDK_POLL_CHAIN)."""

    def get(self, request: Request, bot_id: str, poll_id: str) -> Response:
        principal = self.principal(request, bot_id)
        cursor = shapes.poll_id_read(poll_id)
        conversation = selectors.conversation_find(
            bot_id=principal.bot.pk, identity=principal.identity
        )
        if cursor is None or conversation is None or cursor.conversation_id != conversation.pk:
            # Kore's answer to an unknown or expired pollId.
            raise ApplicationError("no_data", "No data found", Kind.INVALID)
        answer = async_to_sync(poll_answer)(principal, cursor.after, 0)
        messages, alive = answer["messages"], answer["pending"] or _chain_alive(conversation.pk)
        newer = sdk_selectors.newest_send(
            conversation=conversation, key_prefix=shapes.SEND_KEY_PREFIX
        )
        if newer > cursor.send:
            # A later send started a chain from its own message on: this one answers what
            # came before that message, and ends.
            messages, alive = [m for m in messages if m["id"] < newer], False
        entries = _entries(request, conversation.pk, messages)
        next_cursor = shapes.PollCursor(conversation.pk, answer["cursor"], cursor.send)
        poll_id_next = shapes.poll_id_issue(next_cursor) if alive else None
        return Response(_answer(2, entries, poll_id_next), headers={"Cache-Control": "no-store"})


class BotMetaView(KoreView):
    """GET {koreAPIUrl}botmeta/{botId}: the SDK reads `icon`."""

    def get(self, request: Request, bot_id: str) -> Response:
        bot = self.principal(request, bot_id).bot
        icon = bot.theme_avatar_url or DEFAULT_ICON
        return Response({"_id": bot.bot_id, "name": bot.theme_title or bot.name, "icon": icon})


class HistoryView(KoreView):
    """GET {koreAPIUrl}chathistory/{streamId}/{channelType}?botId=&offset=&limit=: our
    store, newest first, as Kore's platform pages it."""

    def get(self, request: Request, bot_id: str, channel_type: str) -> Response:
        principal = self.principal(request, bot_id)
        bot = principal.bot
        channel_check(bot, channel_type)
        limit = min(_int_param(request, "limit", HISTORY_DEFAULT_LIMIT), HISTORY_MAX_LIMIT)
        offset = _int_param(request, "offset", 0)
        icon = bot.theme_avatar_url or DEFAULT_ICON
        conversation = selectors.conversation_find(bot_id=bot.pk, identity=principal.identity)
        if conversation is None:
            return Response({"messages": [], "moreAvailable": False, "icon": icon})
        page, more = sdk_selectors.history_page(
            conversation=conversation, offset=offset, limit=limit
        )
        history: list[dict[str, Any]] = []
        for message in messages_output(page):
            context = {"user": principal.identity, "bot_id": bot.bot_id, "channel": channel_type}
            mine = shapes.user_entry(message)
            if mine is not None:
                history.append(shapes.history_entry(mine, incoming=True, **context))
                continue
            link = _form_link(request, conversation.pk, message["id"])
            # A message's parts, newest first like the page.
            for entry in reversed(shapes.bot_entries(message, link)):
                history.append(shapes.history_entry(entry, incoming=False, **context))
        return Response({"messages": history, "moreAvailable": more, "icon": icon})


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name, "")
    return min(int(value), 10**6) if value.isascii() and value.isdigit() else default


class FormSubmitSerializer(serializers.Serializer):
    formData = FormDataSerializer()


@extend_schema(exclude=True)
@method_decorator(xframe_options_exempt, name="dispatch")
@method_decorator(csrf_exempt, name="dispatch")
class FormPageView(APIView):
    """/kore/forms/{signed}: a bot's Digital Form for one conversation, server-rendered,
    for the SDK's inline iframe. The signed link (FORM_LINK_AGE) is the credential, so
    there is no cookie and no CSRF token; a POST from another origin is refused. The
    submission goes upstream as the widget's would; the answer is the read-only summary."""

    authentication_classes: list[Any] = []
    throttle_classes = [SendPerIp]

    def get_throttles(self) -> list[Any]:
        return super().get_throttles() if self.request.method == "POST" else []

    def get(self, request: Request, signed: str) -> HttpResponseBase:
        form_message = _form_message(signed)
        bot = form_message.conversation.bot
        # Once submitted (the SDK shows the link again after a reload), its summary.
        submission = sdk_selectors.form_submission(form_message=form_message)
        shown = submission.html if submission is not None else form_message.html
        page = render_to_string("webclient/kore_sdk_form.html", {"form_html": shown, "bot": bot})
        response = HttpResponse(page)
        # Framed by the bot's allowed origins only: django-csp's `csp_replace`, applied to
        # this one response, as its value depends on the bot.
        ancestors = ["'self'", *bot_origins.embedding_origins(bot)]
        framed: HttpResponseBase = csp_replace({"frame-ancestors": ancestors})(lambda _r: response)(
            request
        )
        return framed

    def post(self, request: Request, signed: str) -> Response:
        form_message = _form_message(signed)
        conversation = form_message.conversation
        origin = request.headers.get("origin")
        if origin and bot_origins.normalise(origin) not in bot_origins.request_own_origins(request):
            raise bot_origins.origin_not_allowed()
        data = FormSubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        submitted = data.validated_data["formData"]
        message, _ = services.user_message_accept(
            bot=conversation.bot,
            identity=conversation.identity,
            body={"formData": submitted},
            client_message_id=f"{shapes.FORM_KEY_PREFIX}{form_message.pk}",
        )
        return Response({"html": message.html})


def _form_message(signed: str) -> Message:
    found = shapes.form_link_read(signed)
    message = None
    if found is not None:
        conversation_id, message_id = found
        message = sdk_selectors.form_message_get(
            conversation_id=conversation_id, message_id=message_id
        )
    if message is None:
        raise ApplicationError(
            "unknown_form", "This form link is not valid or has expired.", Kind.NOT_FOUND
        )
    return message
