"""Shapes shared by more than one operation."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from webclient import forms
from webclient.attachments import attachments_output
from webclient.models import Message


class MessageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.CharField()
    kind = serializers.CharField()
    text = serializers.CharField()
    html = serializers.CharField()
    data = serializers.SerializerMethodField()  # type: ignore[assignment]
    clientMessageId = serializers.CharField(source="client_message_id", allow_null=True)
    status = serializers.CharField(allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    attachments = serializers.SerializerMethodField()

    def get_attachments(self, message: Message) -> list[dict[str, Any]]:
        if message.role != Message.Role.USER:
            return []
        return attachments_output(conversation_id=message.conversation_id, data=message.data)

    def get_data(self, message: Message) -> Any:
        return forms.shown_data(message.data)


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
