"""Shapes shared by more than one operation."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webclient import forms
from webclient.attachments import attachments_output
from webclient.models import Message


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable slug: what went wrong.")
    message = serializers.CharField(help_text="Human text.")


class ErrorSerializer(serializers.Serializer):
    """Every error of the API; `error` may carry more keys (`fields`, `bots`)."""

    error = ErrorDetailSerializer()


class AttachmentShownSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="A signed, expiring link to the file.")
    name = serializers.CharField()
    contentType = serializers.CharField()
    size = serializers.IntegerField()
    image = serializers.BooleanField()


class AttachmentOutputSerializer(AttachmentShownSerializer):
    id = serializers.CharField(help_text="Name it in a message's `attachments`.")


class MessageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Strictly increasing: the cursor.")
    role = serializers.ChoiceField(choices=Message.Role.choices)
    kind = serializers.ChoiceField(choices=Message.Kind.choices)
    text = serializers.CharField(help_text="Plain-text fallback.")
    html = serializers.CharField(help_text="Safe HTML rendered by the server.")
    data = serializers.SerializerMethodField(  # type: ignore[assignment]
        help_text="The raw Kore payload (secret form inputs masked), or null."
    )
    clientMessageId = serializers.CharField(source="client_message_id", allow_null=True)
    status = serializers.ChoiceField(choices=Message.Status.choices, allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    attachments = serializers.SerializerMethodField()

    @extend_schema_field(AttachmentShownSerializer(many=True))
    def get_attachments(self, message: Message) -> list[dict[str, Any]]:
        if message.role != Message.Role.USER:
            return []
        return attachments_output(conversation_id=message.conversation_id, data=message.data)

    @extend_schema_field(OpenApiTypes.ANY)
    def get_data(self, message: Message) -> Any:
        return forms.shown_data(message.data)


class SendOutputSerializer(serializers.Serializer):
    message = MessageOutputSerializer()
    cursor = serializers.IntegerField()


class PollOutputSerializer(serializers.Serializer):
    messages = MessageOutputSerializer(many=True)
    cursor = serializers.IntegerField(help_text="Send it back as `after`.")
    pending = serializers.BooleanField(help_text="The bot is still working (typing).")


def messages_output(messages: list[Message]) -> list[dict[str, Any]]:
    return list(MessageOutputSerializer(messages, many=True).data)  # type: ignore[call-overload]


MAX_CURSOR = 2**63 - 1


class PollInputSerializer(serializers.Serializer):
    # Capped at SQLite's (and PostgreSQL's bigint) largest integer: a larger cursor would
    # overflow in the query instead of being refused as bad input.
    after = serializers.IntegerField(min_value=0, max_value=MAX_CURSOR, default=0)
    wait = serializers.IntegerField(min_value=0, max_value=MAX_CURSOR, required=False)

    def validate_wait(self, value: int) -> int:
        return min(value, settings.LONGPOLL_MAX_WAIT)
