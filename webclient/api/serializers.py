"""Shapes shared by more than one operation."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from webclient.models import Message


class MessageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.CharField()
    kind = serializers.CharField()
    text = serializers.CharField()
    html = serializers.CharField()
    data = serializers.JSONField()  # type: ignore[assignment]
    clientMessageId = serializers.CharField(source="client_message_id", allow_null=True)
    status = serializers.CharField(allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")


def messages_output(messages: list[Message]) -> list[dict[str, Any]]:
    return list(MessageOutputSerializer(messages, many=True).data)  # type: ignore[call-overload]


class PollInputSerializer(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, default=0)
    wait = serializers.IntegerField(min_value=0, required=False)

    def validate_wait(self, value: int) -> int:
        return min(value, settings.LONGPOLL_MAX_WAIT)
