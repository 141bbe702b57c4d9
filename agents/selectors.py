"""Reading worker tasks and their log lines. Each selector is one query."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, QuerySet

from .models import TaskLogLine, WorkerTask


def tasks_visible_to(*, user) -> QuerySet[WorkerTask]:
    """The user's own tasks, newest first (staff too: see ``recent_tasks`` for all)."""
    if not getattr(user, "is_authenticated", False):
        return WorkerTask.objects.none()
    return WorkerTask.objects.filter(user=user).order_by("-created_at")


def recent_tasks(
    *, limit: int = 50, status: str | None = None, agent: str | None = None, user=None
) -> list[WorkerTask]:
    """Everyone's latest tasks, newest first, with their users; for staff pages."""
    tasks = WorkerTask.objects.select_related("user").order_by("-created_at")
    if status is not None:
        tasks = tasks.filter(status=status)
    if agent is not None:
        tasks = tasks.filter(agent=agent)
    if user is not None:
        tasks = tasks.filter(user=user)
    return list(tasks[:limit])


def task_counts(*, since: datetime | None = None) -> dict[str, int]:
    """How many tasks are in each status (every status present, 0 when none), of those
    created since ``since`` when it is given."""
    tasks = WorkerTask.objects.all() if since is None else WorkerTask.objects.filter(created_at__gte=since)
    counts = dict.fromkeys(WorkerTask.Status.values, 0)
    for row in tasks.order_by().values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    return counts


def task_log_lines(*, task: WorkerTask, after: int = 0, limit: int | None = None) -> list[TaskLogLine]:
    """The task's log lines with ``seq`` greater than ``after``, oldest first; at most
    ``limit``. Pass the last ``seq`` you have to get only the newer lines."""
    lines = TaskLogLine.objects.filter(task=task, seq__gt=after).order_by("seq")
    return list(lines if limit is None else lines[:limit])
