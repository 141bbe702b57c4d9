"""The shapes of sessions and messages, shared by the API and the realtime events."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from .models import ChatMessage, ChatSession


class ChatMessageSerializer(serializers.ModelSerializer):
    session = serializers.UUIDField(source="session_id", read_only=True)

    class Meta:
        model = ChatMessage
        fields = [
            "id",
            "session",
            "role",
            "content",
            "code",
            "status",
            "error",
            "partial",
            "usage",
            "meta",
            "created_at",
        ]
        read_only_fields = fields


class ChatSessionSerializer(serializers.ModelSerializer):
    message_count = serializers.IntegerField(read_only=True, default=None)

    class Meta:
        model = ChatSession
        fields = [
            "id",
            "title",
            "mode",
            "job",
            "project",
            "workflow",
            "meta",
            "is_public",
            "message_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ChatSessionDetailSerializer(ChatSessionSerializer):
    messages = ChatMessageSerializer(many=True, read_only=True)

    class Meta(ChatSessionSerializer.Meta):
        fields = [*ChatSessionSerializer.Meta.fields, "messages"]
        read_only_fields = fields


def message_data(message: ChatMessage) -> dict[str, Any]:
    """A message as clients see it (API and realtime events alike)."""
    return dict(ChatMessageSerializer(message).data)
