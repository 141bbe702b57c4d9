"""Shapes of the event API, for its responses and the OpenAPI document. Input is
validated by the ``events.types`` dataclasses."""

from rest_framework import serializers

from .models import Event as EventRow
from .types import SOURCE_MAX_LENGTH, TYPE_MAX_LENGTH, USER_ID_MAX_LENGTH


class EventInputSerializer(serializers.Serializer):
    timestamp = serializers.DateTimeField(help_text="ISO 8601 with a timezone, e.g. 2025-01-31T12:00:00Z.")
    source = serializers.CharField(max_length=SOURCE_MAX_LENGTH)
    type = serializers.RegexField(
        r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$",
        max_length=TYPE_MAX_LENGTH,
        help_text="A dotted name such as llm.chat or user.message.",
    )
    userID = serializers.CharField(
        max_length=USER_ID_MAX_LENGTH, help_text="Your own userID (staff: anyone's)."
    )
    metadata = serializers.DictField(
        help_text="Any JSON object; llm.chat needs messages: [{role, content}]; "
        "worker.task needs agent (a registered agent's name) and optionally input (an object)."
    )


class EventAcceptedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=EventRow.Status.choices)


class EventSerializer(serializers.ModelSerializer):
    userID = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = EventRow
        fields = [
            "id", "type", "source", "userID", "timestamp", "metadata", "status", "handler",
            "attempts", "last_error", "received_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields
