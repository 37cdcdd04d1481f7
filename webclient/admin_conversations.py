"""Admin for conversations and messages: read-only, with the transcript as the user saw it.

The transcript page shows each message's stored `html` in the widget's own styles, inside an
iframe that is sandboxed twice: the element has `sandbox=""` and the framed document is
served with `Content-Security-Policy: sandbox; script-src 'none'…`. Bot content therefore
never runs script, submits a form or reaches the admin's page, cookies or DOM.

Conversations and messages cannot be added or edited (no Save button); deleting stays
possible, for retention requests. Exports stream; a retry sends a failed user message to the
bot again through webclient.kore.outbox (a new outbox entry).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from webclient import exports
from webclient.kore import outbox
from webclient.models import Conversation, Message

# The framed transcript: styles from this server, images and media as the widget allows,
# nothing else, and no script at all. The origin is spelled out next to 'self' because the
# `sandbox` directive gives the document an opaque origin, which 'self' may not match.
TRANSCRIPT_FRAME_POLICY = (
    "default-src 'none'",
    "style-src 'self' {origin}",
    "img-src 'self' data: https: http:",
    "media-src 'self' https: http:",
    "font-src 'self'",
    "script-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
    "frame-ancestors 'self'",
    "sandbox",
)


class FailedFilter(admin.SimpleListFilter):
    title = "failed messages"
    parameter_name = "failed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "With a failed message"), ("no", "Without")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        failed = Message.objects.filter(conversation=OuterRef("pk"), status=Message.Status.FAILED)
        if self.value() == "yes":
            return queryset.filter(Exists(failed))
        if self.value() == "no":
            return queryset.exclude(Exists(failed))
        return queryset


class ReadOnly:
    """No add, no change (so no Save button); delete stays, for retention."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MessageInline(ReadOnly, admin.TabularInline):
    model = Message
    fields = ("id", "created_at", "role", "kind", "text", "status", "failure_reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


def _streamed(chunks: Any, content_type: str, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _stamp() -> str:
    return timezone.now().strftime("%Y%m%dT%H%M%SZ")


def transcript_entries(conversation: Conversation) -> list[dict[str, Any]]:
    """Each message with what the transcript shows about it, including the states later
    system entries gave it (failed, submitted, retried…), as the widget applies them."""
    log = list(conversation.messages.order_by("id"))
    states: dict[int, list[str]] = defaultdict(list)
    for message in log:
        data = message.data if isinstance(message.data, dict) else {}
        state = data.get("state") or data.get("status")
        if message.role == Message.Role.SYSTEM and data.get("refersTo") and state:
            states[int(data["refersTo"])].append(str(state))
    return [
        {
            "message": m,
            "states": states.get(m.pk, []),
            "classes": " ".join(
                [
                    f"kc-msg kc-role-{m.role} kc-kind-{m.kind}",
                    f"kc-status-{m.status}" if m.status else "",
                    *(f"kc-state-{s}" for s in states.get(m.pk, [])),
                ]
            ).strip(),
        }
        for m in log
    ]


@admin.register(Conversation)
class ConversationAdmin(ReadOnly, admin.ModelAdmin):
    list_display = (
        "identity",
        "bot",
        "created_at",
        "last_activity_at",
        "pending_shown",
        "transcript_link",
    )
    list_filter = ("bot", "pending", FailedFilter, "created_at", "last_activity_at")
    date_hierarchy = "last_activity_at"
    search_fields = ("identity", "messages__text")
    list_select_related = ("bot",)
    readonly_fields = (
        "bot",
        "identity",
        "created_at",
        "last_activity_at",
        "session_started",
        "pending_shown",
        "task_state",
        "transcript_link",
    )
    inlines = [MessageInline]
    actions = ["export_json", "export_csv"]

    @admin.display(description="Pending", ordering="pending")
    def pending_shown(self, conversation: Conversation) -> str:
        # A word, not Django's red cross: "no" (the bot is not working on an answer) is the
        # normal state, not a fault.
        return "yes: the bot is working" if conversation.pending else "no"

    @admin.display(description="Transcript")
    def transcript_link(self, conversation: Conversation) -> str:
        url = reverse("admin:webclient_conversation_transcript", args=[conversation.pk])
        return format_html('<a href="{}">Transcript</a>', url)

    @admin.action(description="Export selected conversations as JSON")
    def export_json(
        self, request: HttpRequest, queryset: QuerySet[Conversation]
    ) -> StreamingHttpResponse:
        return _streamed(
            exports.json_chunks(queryset), "application/json", f"conversations-{_stamp()}.json"
        )

    @admin.action(description="Export selected conversations as CSV (one row per message)")
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[Conversation]
    ) -> StreamingHttpResponse:
        return _streamed(
            exports.csv_chunks(queryset), "text/csv; charset=utf-8", f"messages-{_stamp()}.csv"
        )

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:pk>/transcript/",
                self.admin_site.admin_view(self.transcript_view),
                name="webclient_conversation_transcript",
            ),
            path(
                "<int:pk>/transcript/frame/",
                self.admin_site.admin_view(self.transcript_frame),
                name="webclient_conversation_transcript_frame",
            ),
            path(
                "<int:pk>/retry/<int:message_pk>/",
                self.admin_site.admin_view(require_POST(self.retry_view)),
                name="webclient_conversation_retry",
            ),
        ]
        return own + super().get_urls()

    def _conversation(self, request: HttpRequest, pk: int) -> Conversation:
        conversation = get_object_or_404(Conversation.objects.select_related("bot"), pk=pk)
        if not self.has_view_permission(request, conversation):
            raise PermissionDenied
        return conversation

    def transcript_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        conversation = self._conversation(request, pk)
        entries = transcript_entries(conversation)
        retried = {e["message"].pk for e in entries if "retried" in e["states"]}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Transcript: {conversation}",
            "conversation": conversation,
            "entries": entries,
            "failed": [e["message"] for e in entries if e["message"].status == "failed"],
            "retried": retried,
            "can_retry": can_retry(request),
            "frame_url": reverse(
                "admin:webclient_conversation_transcript_frame", args=[conversation.pk]
            ),
        }
        return TemplateResponse(request, "admin/webclient/conversation/transcript.html", context)

    def retry_view(self, request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
        """The transcript's "Send to the bot again" button: the Messages list's retry action
        for one message, with the same permission."""
        conversation = self._conversation(request, pk)
        if not can_retry(request):
            raise PermissionDenied
        message = get_object_or_404(Message, pk=message_pk, conversation=conversation)
        retry_messages(self, request, [message])
        return HttpResponseRedirect(
            reverse("admin:webclient_conversation_transcript", args=[conversation.pk])
        )

    def transcript_frame(self, request: HttpRequest, pk: int) -> HttpResponse:
        conversation = self._conversation(request, pk)
        context = {"conversation": conversation, "entries": transcript_entries(conversation)}
        response = TemplateResponse(request, "webclient/transcript_frame.html", context)
        origin = request.build_absolute_uri("/").rstrip("/")
        response["Content-Security-Policy"] = "; ".join(TRANSCRIPT_FRAME_POLICY).format(
            origin=origin
        )
        # Framed by the transcript page only (frame-ancestors 'self' says the same).
        response["X-Frame-Options"] = "SAMEORIGIN"
        return response


@admin.register(Message)
class MessageAdmin(ReadOnly, admin.ModelAdmin):
    class Media:
        css = {"all": ("webclient/admin.css",)}

    list_display = (
        "id",
        "created_shown",
        "conversation",
        "role",
        "text_shown",
        "status",
        "failure_shown",
    )
    list_filter = ("role", "kind", "status", "conversation__bot", "created_at")
    # Newest first: an operator comes to see what just happened.
    ordering = ("-id",)
    search_fields = ("text", "client_message_id", "platform_message_id", "request_id")
    list_select_related = ("conversation__bot",)
    readonly_fields = [f.name for f in Message._meta.fields]
    actions = ["retry"]

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return can_retry(request)

    @admin.action(description="Send failed user messages to the bot again", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        retry_messages(self, request, queryset.order_by("id"))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # The columns and the filters need the page's width: no navigation sidebar here (the
        # breadcrumbs lead back), so the list reads whole at 1,280 px (kind: a filter).
        context = {"is_nav_sidebar_enabled": False, **(extra_context or {})}
        return super().changelist_view(request, context)

    @admin.display(description="Created", ordering="created_at")
    def created_shown(self, message: Message) -> str:
        return timezone.localtime(message.created_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description="Text", ordering="text")
    def text_shown(self, message: Message) -> str:
        return shortened(message.text)

    @admin.display(description="Failure", ordering="failure_reason")
    def failure_shown(self, message: Message) -> str:
        return shortened(message.failure_reason)


def shortened(text: str, length: int = 80) -> str:
    """A list cell's text: one line, cut at a word, the whole on the change page."""
    line = " ".join(text.split())
    return line if len(line) <= length else line[:length].rsplit(" ", 1)[0] + "…"


def can_retry(request: HttpRequest) -> bool:
    # Sending to the bot is a write: it needs the right to change messages, which the admin
    # otherwise never uses (messages are read-only here).
    return request.user.has_perm("webclient.change_message")


def retry_messages(model_admin: admin.ModelAdmin[Any], request: HttpRequest, chosen: Any) -> None:
    """Send each failed user message to the bot again (webclient.kore.outbox), and say so."""
    retried, skipped = 0, 0
    operator = request.user.get_username()
    for message in chosen:
        try:
            outbox.user_message_retry(message=message, operator=operator)
        except outbox.NotRetryable:
            skipped += 1
        else:
            retried += 1
    if retried:
        model_admin.message_user(request, f"{retried} message(s) sent to the bot again.")
    if skipped:
        model_admin.message_user(
            request,
            f"{skipped} message(s) skipped: only failed user messages can be retried.",
            messages.WARNING,
        )
