"""Shapes of the task API, for its responses and the OpenAPI document."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from assistant.serializers import ObjectField
from assistant.strict_input import QueryParamsSerializer

from .models import TaskLogLine, WorkerTask

TASK_FIELDS = [
    "id", "event", "agent", "status", "progress", "input", "error", "created_at", "started_at", "finished_at",
]  # fmt: skip


class WorkerTaskSerializer(serializers.ModelSerializer):
    input = ObjectField(read_only=True, help_text="What the agent was given.")

    class Meta:
        model = WorkerTask
        fields = TASK_FIELDS
        read_only_fields = fields


class TaskLogLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaskLogLine
        fields = ["seq", "at", "level", "text"]
        read_only_fields = fields


class WorkerTaskDetailSerializer(serializers.ModelSerializer):
    input = ObjectField(read_only=True, help_text="What the agent was given.")
    lines = serializers.SerializerMethodField(help_text="Log lines after `after`, oldest first.")
    more_lines = serializers.SerializerMethodField(
        help_text="True when there are more lines than one response holds: ask again with the last seq."
    )

    class Meta:
        model = WorkerTask
        fields = [*TASK_FIELDS, "result", "lines", "more_lines"]
        read_only_fields = fields

    @extend_schema_field(TaskLogLineSerializer(many=True))
    def get_lines(self, task) -> list[dict]:
        return TaskLogLineSerializer(self.context["lines"], many=True).data

    def get_more_lines(self, task) -> bool:
        return self.context["more_lines"]


class TasksQuerySerializer(QueryParamsSerializer):
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=200)


class TaskDetailQuerySerializer(QueryParamsSerializer):
    after = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=2**31 - 1,
        help_text="Only lines with a greater seq.",
    )
