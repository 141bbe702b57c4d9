"""Every change to worker tasks goes through these functions: creating a task for its
event, starting it, its log lines and progress, and how it ended."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from django.db.models import Max
from django.utils import timezone

from events.models import Event as EventRow
from events.services import event_heartbeat

from .conf import agents_settings
from .models import TaskLogLine, WorkerTask

logger = logging.getLogger(__name__)
Status = WorkerTask.Status


def task_get_or_create(*, event: EventRow) -> tuple[WorkerTask, bool]:
    """The task of a ``worker.task`` event (created ``queued``, with the event's id, the
    first time); True when it was created now."""
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    task_input = metadata.get("input")
    return WorkerTask.objects.get_or_create(
        event=event,
        defaults={
            "id": event.pk,
            "user_id": event.user_id,
            "agent": str(metadata.get("agent", ""))[:100],
            "input": task_input if isinstance(task_input, dict) else {},
            "created_at": event.received_at,
        },
    )


def _line_text(text: Any) -> str:
    text = str(text).replace("\x00", "\ufffd")
    limit = agents_settings.MAX_LINE_LENGTH
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _level(level: str) -> str:
    if level not in TaskLogLine.Level.values:
        raise ValueError(f"level must be one of {', '.join(TaskLogLine.Level.values)}; got {level!r}.")
    return level


def task_log(*, task: WorkerTask, text: Any, level: str = "info", seq: int | None = None) -> TaskLogLine:
    """Add a line to the task's log at once (one INSERT; one more query to find the next
    ``seq`` when it isn't given). Text is cut at ``AGENTS["MAX_LINE_LENGTH"]``."""
    level = _level(level)
    if seq is None:
        seq = (task.log_lines.aggregate(last=Max("seq"))["last"] or 0) + 1
    return TaskLogLine.objects.create(task=task, seq=seq, level=level, text=_line_text(text))


def _percent(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise ValueError(f"progress must be a number from 0 to 100 (percent); got {value!r}.")
    return round(value)


def task_progress(*, task: WorkerTask, value: float, text: Any = None) -> None:
    """Set the task's progress (percent, 0 to 100) with one UPDATE; ``text`` also goes
    to its log."""
    task.progress = _percent(value)
    WorkerTask.objects.filter(pk=task.pk).update(progress=task.progress)
    if text is not None:
        task_log(task=task, text=text)


class TaskRun:
    """What an agent's ``run(task)`` gets: ``input`` (checked by the agent's
    ``validate``), ``user`` (the task's owner), ``id``, and ``log``/``progress``, which
    write at once so that readers see each line as it comes."""

    #: Seconds between the heartbeats a running agent's log and progress send.
    HEARTBEAT_EVERY = 30.0

    def __init__(self, *, task: WorkerTask, last_seq: int = 0) -> None:
        self.record = task
        self._seq = last_seq
        self._dropped = False
        self._last_beat = time.monotonic()

    def _heartbeat(self) -> None:
        """Keep the task's event from being taken for stuck while the agent reports."""
        if time.monotonic() - self._last_beat >= self.HEARTBEAT_EVERY:
            self._last_beat = time.monotonic()
            event_heartbeat(event_id=self.record.event_id)

    @property
    def id(self):
        return self.record.pk

    @property
    def input(self) -> dict[str, Any]:
        return self.record.input

    @property
    def user(self):
        return self.record.user

    @property
    def agent(self) -> str:
        return self.record.agent

    def log(self, text: Any, level: str = "info") -> None:
        """Add a line to the task's log (one INSERT). Past ``AGENTS["MAX_LOG_LINES"]``
        lines are dropped."""
        level = _level(level)
        limit = agents_settings.MAX_LOG_LINES
        if self._seq >= limit:
            return
        if self._seq == limit - 1:
            text, level = f"The log is full ({limit} lines): later lines are dropped.", "warning"
        self._seq += 1
        task_log(task=self.record, text=text, level=level, seq=self._seq)
        self._heartbeat()

    def progress(self, value: float, text: Any = None) -> None:
        """Set the progress, in percent (0 to 100); ``text`` also goes to the log."""
        task_progress(task=self.record, value=value)
        if text is not None:
            self.log(text)
        else:
            self._heartbeat()


def task_start(*, task: WorkerTask, input: dict[str, Any]) -> TaskRun:  # noqa: A002
    """Mark the task running with ``input`` (what the agent's ``validate`` returned) and
    give the object its agent gets. A task started again (a retry, or after its worker
    went silent) keeps its earlier log lines."""
    json.dumps(input, allow_nan=False)  # an agent's validate() must give JSON
    task.status, task.input, task.progress = Status.RUNNING, input, 0
    task.result, task.error, task.started_at, task.finished_at = None, "", timezone.now(), None
    task.save(update_fields=["status", "input", "progress", "result", "error", "started_at", "finished_at"])
    last_seq = task.log_lines.aggregate(last=Max("seq"))["last"] or 0
    return TaskRun(task=task, last_seq=last_seq)


def _json_result(result: Any) -> Any:
    try:
        text = json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The agent's result must be JSON: {exc}.") from None
    if "\\u0000" in text:
        raise ValueError("The agent's result must not contain NUL characters.")
    return json.loads(text)


def task_finish(*, task: WorkerTask, result: Any = None, error: str | None = None) -> WorkerTask:
    """End the task: ``succeeded`` with ``result`` (JSON; ``ValueError`` otherwise, and
    nothing changes), or ``failed`` with ``error`` when it is given."""
    if error is None:
        task.result, task.status, task.progress, task.error = _json_result(result), Status.SUCCEEDED, 100, ""
    else:
        task.status, task.error = Status.FAILED, _line_text(error or "The task failed.")
    task.finished_at = timezone.now()
    task.save(update_fields=["status", "progress", "result", "error", "finished_at"])
    return task


def task_requeue(*, task: WorkerTask, error: str) -> WorkerTask:
    """Put the task back to ``queued`` after a failure that may pass; it runs again."""
    task.status, task.error, task.finished_at = Status.QUEUED, _line_text(error), None
    task.save(update_fields=["status", "error", "finished_at"])
    return task
