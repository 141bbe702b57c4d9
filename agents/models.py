"""Worker tasks: one per ``worker.task`` event, with its status, progress, result and
log lines."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class TaskStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WorkerTask(models.Model):
    """An agent's run for a ``worker.task`` event. Its id is the event's id; deleting
    the event deletes the task and its log lines."""

    Status = TaskStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.OneToOneField("events.Event", on_delete=models.CASCADE, related_name="worker_task")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="worker_tasks")
    agent = models.CharField(max_length=100, help_text="The registered agent's name.")
    input = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done, 0 to 100.")
    result = models.JSONField(null=True, blank=True, help_text="What the agent returned.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="task_recent"),
            models.Index(fields=["user", "-created_at"], name="task_user_recent"),
            # The dashboard counts queued and running tasks every few seconds.
            models.Index(fields=["status", "created_at"], name="task_status_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=TaskStatus.values), name="task_status_valid"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="task_progress_percent"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED)


class LogLevel(models.TextChoices):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class TaskLogLine(models.Model):
    """One line of a task's log; ``seq`` counts 1, 2, 3… per task."""

    Level = LogLevel

    task = models.ForeignKey(WorkerTask, on_delete=models.CASCADE, related_name="log_lines")
    seq = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    text = models.TextField()

    class Meta:
        ordering = ["task", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["task", "seq"], name="task_log_seq_unique"),
            models.CheckConstraint(condition=Q(level__in=LogLevel.values), name="task_log_level_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.seq} {self.level}: {self.text[:60]}"
