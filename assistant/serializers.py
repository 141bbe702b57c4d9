"""The shape of a message, shared by the API and the realtime events."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import ChatMessage, Feedback, ToolCall
from .strict_input import JSONBodySerializer


@extend_schema_field(OpenApiTypes.OBJECT)
class ObjectField(serializers.JSONField):
    """A JSON object (a model's ``JSONField`` that holds one): ``type: object`` in the
    document, where a bare ``JSONField`` is any JSON value."""


class VersionsSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.UUIDField(), help_text="Every version, oldest first.")
    index = serializers.IntegerField(help_text="The shown one's place in ``ids``.")


class ChatMessageSerializer(serializers.ModelSerializer):
    session = serializers.UUIDField(source="session_id", read_only=True)
    parent = serializers.UUIDField(
        source="parent_id",
        read_only=True,
        allow_null=True,
        help_text="A question: the one before it on its branch.",
    )
    reply_to = serializers.UUIDField(
        source="reply_to_id", read_only=True, allow_null=True, help_text="A shown answer: its question."
    )
    versions = serializers.SerializerMethodField(
        help_text="In a session's conversation, when the turn has more than one version: the edits "
        "of a question, or the answers to it. Null otherwise."
    )
    usage = ObjectField(
        read_only=True,
        help_text="An answer's tokens: prompt_tokens, completion_tokens, total_tokens; {} for a question.",
    )
    meta = ObjectField(
        read_only=True,
        help_text="A question's options; an answer's finish_reason, validation_errors (workflow "
        "templates) and tools (the tool calls it made).",
    )

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
            "parent",
            "reply_to",
            "versions",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(VersionsSerializer(allow_null=True))
    def get_versions(self, message: ChatMessage) -> dict[str, Any] | None:
        return getattr(message, "versions", None)

    def to_representation(self, instance: ChatMessage) -> dict[str, Any]:
        return message_data(instance)

    def fields_representation(self, instance: ChatMessage) -> dict[str, Any]:
        """The representation the declared fields make (what ``message_data`` equals)."""
        return dict(super().to_representation(instance))


class FeedbackSerializer(JSONBodySerializer, serializers.ModelSerializer):
    message = serializers.UUIDField(source="message_id", read_only=True)

    class Meta:
        model = Feedback
        fields = ["message", "rating", "comment", "model", "created_at", "updated_at"]
        read_only_fields = ["message", "model", "created_at", "updated_at"]
        extra_kwargs = {"comment": {"max_length": Feedback.COMMENT_MAX_LENGTH, "required": False}}


class ToolCallSerializer(serializers.ModelSerializer):
    message_id = serializers.UUIDField(read_only=True, allow_null=True, help_text="Null for an agent's call.")
    arguments = ObjectField(read_only=True, help_text="The arguments the tool was called with.")
    preview = serializers.JSONField(
        read_only=True,
        allow_null=True,
        help_text="What you are shown to decide (the tool's; for code, a diff).",
    )
    outcome = ObjectField(
        read_only=True,
        allow_null=True,
        help_text='After an approval: {"ok", "result" or "error"}; null before.',
    )

    class Meta:
        model = ToolCall
        fields = ["id", "message_id", "call_id", "name", "arguments", "preview", "status", "outcome",
                  "decided_at", "expires_at"]  # fmt: skip
        read_only_fields = fields


_datetime = serializers.DateTimeField()


def _id(value) -> str | None:
    return None if value is None else str(value)


def message_data(message: ChatMessage) -> dict[str, Any]:
    """A message as clients see it (API and realtime events alike): what
    ``ChatMessageSerializer``'s fields make, built directly, as every answer and every
    listed message goes through it."""
    return {
        "id": str(message.pk),
        "session": _id(message.session_id),
        "role": message.role,
        "content": message.content,
        "code": message.code,
        "status": message.status,
        "error": message.error,
        "partial": message.partial,
        "usage": message.usage,
        "meta": message.meta,
        "parent": _id(message.parent_id),
        "reply_to": _id(message.reply_to_id),
        "versions": getattr(message, "versions", None),
        "created_at": _datetime.to_representation(message.created_at),
    }
