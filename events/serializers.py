"""Shapes of the event API, for its responses and the OpenAPI document. Input is
validated by the ``events.types`` dataclasses."""

from rest_framework import serializers

from assistant.serializers import ObjectField
from assistant.strict_input import QueryParamsSerializer

from .models import Event as EventRow
from .models import Schedule
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
        max_length=USER_ID_MAX_LENGTH, help_text="Your own userID (staff with events.add_event: anyone's)."
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
    metadata = ObjectField(read_only=True)

    class Meta:
        model = EventRow
        fields = [
            "id", "type", "source", "userID", "timestamp", "metadata", "status", "handler",
            "attempts", "last_error", "received_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class ScheduleInputSerializer(serializers.Serializer):
    """For the OpenAPI document; the view validates the body itself."""

    event = serializers.DictField(help_text="The event to publish (its timestamp is set when it fires).")
    timestamp = serializers.DateTimeField(required=False, help_text="Once, at this future time.")
    cron = serializers.CharField(
        required=False, help_text="Repeating: minute hour day-of-month month day-of-week, e.g. */15 * * * *."
    )
    timezone = serializers.CharField(required=False, default="UTC", help_text="The cron's IANA timezone.")


class ScheduleSerializer(serializers.ModelSerializer):
    userID = serializers.CharField(source="user.username", read_only=True)
    event = ObjectField(read_only=True, help_text="The event to publish: type, source, userID, metadata.")
    timestamp = serializers.DateTimeField(source="run_at", read_only=True, allow_null=True)
    next_run = serializers.DateTimeField(source="next_run_at", read_only=True, allow_null=True)
    last_run = serializers.DateTimeField(source="last_run_at", read_only=True, allow_null=True)

    class Meta:
        model = Schedule
        fields = [
            "id", "kind", "event", "timestamp", "cron", "timezone", "status", "next_run",
            "last_run", "run_count", "userID", "created_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class ScheduleListParamsSerializer(QueryParamsSerializer):
    status = serializers.ChoiceField(choices=Schedule.Status.choices, required=False)
    offset = serializers.IntegerField(default=0, min_value=0)
    limit = serializers.IntegerField(default=20, min_value=1, max_value=100)


class EventListParamsSerializer(QueryParamsSerializer):
    type = serializers.CharField(required=False, max_length=TYPE_MAX_LENGTH)
    status = serializers.ChoiceField(choices=EventRow.Status.choices, required=False)
    offset = serializers.IntegerField(default=0, min_value=0)
    limit = serializers.IntegerField(default=20, min_value=1, max_value=100)
