"""What the staff dashboard shows: one function per section, assembled by
``dashboard_snapshot`` into the JSON the page polls. Every section takes the same
number of queries however many rows there are, and reads only the rows it shows
(counts excepted)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from django.db.models import Count, F, Q, Window
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Left, RowNumber
from django.utils import timezone

from agents.models import TaskLogLine, WorkerTask
from assistant.models import ChatMessage, Feedback
from events.models import Event as EventRow
from events.models import Schedule
from events.registry import site as event_handlers

#: Rows a list shows.
RECENT_FEEDBACK = 20
RECENT_EVENTS = 25
RECENT_MESSAGES = 20
RECENT_SCHEDULES = 25
RECENT_FINISHED_SCHEDULES = 10
RECENT_TASKS = 20
#: The last log lines shown of each task.
TASK_LOG_TAIL = 20
#: Finished events (handled, unhandled, failed), schedules (done, cancelled) and tasks
#: (succeeded, failed) are counted over this window; the others however old they are.
FINISHED_WINDOW = timedelta(hours=24)
#: Characters of a failed message's text shown beside its error.
PREVIEW_LENGTH = 120


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() * 1000)


def handled_event_types() -> list[dict[str, str]]:
    """The event types a handler is registered for that clients may post (not the
    system's own), with the handler's name, by type."""
    reserved = event_handlers.reserved_types()
    return [
        {"type": kind, "handler": handler.name}
        for kind, handler in sorted(event_handlers.all().items())
        if kind not in reserved
    ]


# --- Events -------------------------------------------------------------------------


def events_section(*, now: datetime, limit: int = RECENT_EVENTS) -> dict[str, Any]:
    """The latest events with how their handling went, and counts by status: queued
    and processing ones in all, finished ones received within ``FINISHED_WINDOW``.
    Two queries."""
    status = EventRow.Status
    unfinished = [status.QUEUED, status.PROCESSING]
    counts = EventRow.objects.filter(
        Q(status__in=unfinished) | Q(received_at__gte=now - FINISHED_WINDOW)
    ).aggregate(**{value: Count("pk", filter=Q(status=value)) for value in status.values})
    rows = EventRow.objects.order_by("-received_at").values(
        "id", "type", "source", "user__username", "status", "handler", "attempts", "last_error",
        "received_at", "started_at", "finished_at",
    )[:limit]  # fmt: skip
    return {
        "counts": counts,
        "window_hours": FINISHED_WINDOW // timedelta(hours=1),
        "recent": [
            {
                "id": str(row["id"]),
                "type": row["type"],
                "source": row["source"],
                "userID": row["user__username"],
                "status": row["status"],
                "handler": row["handler"],
                "attempts": row["attempts"],
                "last_error": row["last_error"],
                "received_at": _iso(row["received_at"]),
                "started_at": _iso(row["started_at"]),
                "finished_at": _iso(row["finished_at"]),
                "duration_ms": _ms(row["started_at"], row["finished_at"]),
            }
            for row in rows
        ],
    }


# --- AI message processing ------------------------------------------------------------


def _durations_summary(values: list[int]) -> dict[str, int | None]:
    return {"median_ms": round(median(values)) if values else None, "max_ms": max(values, default=None)}


def messages_section(*, now: datetime, limit: int = RECENT_MESSAGES) -> dict[str, Any]:
    """Users' messages: how many are pending, processing and failed now, how long the
    latest answered ones took, and the latest failed ones (to retry). Three queries."""
    status = ChatMessage.Status
    questions = ChatMessage.objects.filter(role=ChatMessage.Role.USER)
    counts = questions.filter(status__in=[status.PENDING, status.PROCESSING, status.ERROR]).aggregate(
        pending=Count("pk", filter=Q(status=status.PENDING)),
        processing=Count("pk", filter=Q(status=status.PROCESSING)),
        failed=Count("pk", filter=Q(status=status.ERROR)),
    )
    answered = (
        questions.filter(
            status=status.SUCCESS, processing_started_at__isnull=False, processing_completed_at__isnull=False
        )
        .order_by("-created_at")
        .values(
            "id", "session__mode", "user__username", "attempts", "created_at", "processing_started_at",
            "processing_completed_at",
        )[:limit]
    )  # fmt: skip
    recent = [
        {
            "id": str(row["id"]),
            "mode": row["session__mode"],
            "userID": row["user__username"],
            "attempts": row["attempts"],
            "created_at": _iso(row["created_at"]),
            "completed_at": _iso(row["processing_completed_at"]),
            # The answering attempt, from its claim to the saved reply.
            "processing_ms": _ms(row["processing_started_at"], row["processing_completed_at"]),
            # From the question to its answer: waiting, retries and processing.
            "total_ms": _ms(row["created_at"], row["processing_completed_at"]),
        }
        for row in answered
    ]
    failed = (
        questions.filter(status=status.ERROR)
        .order_by("-created_at")
        .annotate(preview=Left("content", PREVIEW_LENGTH))
        .values(
            "id", "session_id", "session__mode", "user__username", "preview", "error", "attempts",
            "created_at", "updated_at",
        )[:limit]
    )  # fmt: skip
    return {
        "counts": counts,
        "durations": {
            "recent": recent,
            "processing": _durations_summary([m["processing_ms"] for m in recent]),
            "total": _durations_summary([m["total_ms"] for m in recent]),
        },
        "failed": [
            {
                "id": str(row["id"]),
                "session": str(row["session_id"]),
                "mode": row["session__mode"],
                "userID": row["user__username"],
                "content": row["preview"],
                "error": row["error"],
                "attempts": row["attempts"],
                "created_at": _iso(row["created_at"]),
                "failed_at": _iso(row["updated_at"]),
            }
            for row in failed
        ],
    }


# --- Schedules ------------------------------------------------------------------------


def _schedule_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "userID": row["user__username"],
        "type": row["event_type"],
        "kind": row["kind"],
        "run_at": _iso(row["run_at"]),
        "cron": row["cron"],
        "timezone": row["timezone"],
        "status": row["status"],
        "next_run": _iso(row["next_run_at"]),
        "last_run": _iso(row["last_run_at"]),
        "run_count": row["run_count"],
        "created_at": _iso(row["created_at"]),
        "finished_at": _iso(row["finished_at"]),
    }


def schedules_section(
    *, now: datetime, limit: int = RECENT_SCHEDULES, finished_limit: int = RECENT_FINISHED_SCHEDULES
) -> dict[str, Any]:
    """Everyone's schedules: how many are active in all and how many finished (done,
    cancelled) within ``FINISHED_WINDOW``; the active ones that fire soonest, and the
    latest finished ones. Three queries."""
    status = Schedule.Status
    counts = Schedule.objects.filter(
        Q(status=status.ACTIVE) | Q(finished_at__gte=now - FINISHED_WINDOW)
    ).aggregate(**{value: Count("pk", filter=Q(status=value)) for value in status.values})
    rows = Schedule.objects.annotate(event_type=KeyTextTransform("type", "event"))
    fields = (
        "id", "user__username", "event_type", "kind", "run_at", "cron", "timezone", "status", "next_run_at",
        "last_run_at", "run_count", "created_at", "finished_at",
    )  # fmt: skip
    active = (
        rows.filter(status=status.ACTIVE)
        .order_by(F("next_run_at").asc(nulls_last=True), "created_at")
        .values(*fields)[:limit]
    )
    finished = (
        rows.filter(status__in=[status.DONE, status.CANCELLED])
        .order_by(F("finished_at").desc(nulls_last=True), "-created_at")
        .values(*fields)[:finished_limit]
    )
    return {
        "counts": counts,
        "window_hours": FINISHED_WINDOW // timedelta(hours=1),
        "active": [_schedule_item(row) for row in active],
        "finished": [_schedule_item(row) for row in finished],
    }


# --- Worker tasks ---------------------------------------------------------------------


def tasks_section(*, now: datetime, limit: int = RECENT_TASKS, tail: int = TASK_LOG_TAIL) -> dict[str, Any]:
    """Worker tasks: how many are queued and running, and how many created within
    ``FINISHED_WINDOW`` succeeded and failed; the latest ones, each with its last
    ``tail`` log lines (oldest first). Three queries: the lines of all shown tasks
    are read at once, ranked from the end within each task."""
    status = WorkerTask.Status
    unfinished = [status.QUEUED, status.RUNNING]
    counts = WorkerTask.objects.filter(
        Q(status__in=unfinished) | Q(created_at__gte=now - FINISHED_WINDOW)
    ).aggregate(**{value: Count("pk", filter=Q(status=value)) for value in status.values})
    tasks = list(
        WorkerTask.objects.order_by("-created_at").values(
            "id", "agent", "user__username", "status", "progress", "error", "created_at", "started_at",
            "finished_at",
        )[:limit]
    )  # fmt: skip
    lines: dict[Any, list[dict[str, Any]]] = {task["id"]: [] for task in tasks}
    if tasks and tail > 0:
        tails = (
            TaskLogLine.objects.filter(task_id__in=list(lines))
            .annotate(from_end=Window(RowNumber(), partition_by=[F("task_id")], order_by=F("seq").desc()))
            .filter(from_end__lte=tail)
            .order_by("task_id", "seq")
            .values("task_id", "seq", "at", "level", "text")
        )
        for line in tails:
            lines[line["task_id"]].append(
                {"seq": line["seq"], "at": _iso(line["at"]), "level": line["level"], "text": line["text"]}
            )
    return {
        "counts": counts,
        "window_hours": FINISHED_WINDOW // timedelta(hours=1),
        "recent": [
            {
                "id": str(task["id"]),
                "agent": task["agent"],
                "userID": task["user__username"],
                "status": task["status"],
                "progress": task["progress"],
                "error": task["error"],
                "created_at": _iso(task["created_at"]),
                "started_at": _iso(task["started_at"]),
                "finished_at": _iso(task["finished_at"]),
                "duration_ms": _ms(task["started_at"], task["finished_at"]),
                "lines": lines[task["id"]],
            }
            for task in tasks
        ],
    }


# --- The snapshot ---------------------------------------------------------------------


def feedback_section(
    *, now: datetime, rating: str | None = None, model: str | None = None, limit: int = RECENT_FEEDBACK
) -> dict[str, Any]:
    """Users' ratings of answers: thumbs up and down in all and by model, and the latest
    ones (of ``rating`` and ``model`` when given) with their question and answer. Three
    queries."""
    counts = Feedback.objects.aggregate(
        up=Count("pk", filter=Q(rating=Feedback.Rating.UP)),
        down=Count("pk", filter=Q(rating=Feedback.Rating.DOWN)),
        commented=Count("pk", filter=~Q(comment="")),
    )
    by_model = list(
        Feedback.objects.values("model")
        .annotate(
            up=Count("pk", filter=Q(rating=Feedback.Rating.UP)),
            down=Count("pk", filter=Q(rating=Feedback.Rating.DOWN)),
        )
        .order_by("model")
    )
    rows = Feedback.objects.order_by("-updated_at", "-pk")
    if rating:
        rows = rows.filter(rating=rating)
    if model:
        rows = rows.filter(model=model)
    recent = [
        {
            "id": str(row["id"]),
            "at": _iso(row["updated_at"]),
            "userID": row["user__username"],
            "model": row["model"],
            "rating": row["rating"],
            "comment": row["comment"],
            "question": row["question"],
            "answer": row["answer"],
            "session": str(row["message__session_id"]),
        }
        for row in rows.annotate(
            question=Left("message__reply_to__content", PREVIEW_LENGTH),
            answer=Left("message__content", PREVIEW_LENGTH),
        ).values(
            "id", "updated_at", "user__username", "model", "rating", "comment", "question", "answer",
            "message__session_id",
        )[:limit]
    ]  # fmt: skip
    return {
        "counts": counts,
        "by_model": by_model,
        "filters": {"rating": rating or "", "model": model or ""},
        "recent": recent,
    }


#: The page's sections, in order: each takes ``now=`` and returns JSON-able data, which
#: the page's script renders with the function of the same name in its ``SECTIONS``.
SECTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "events": events_section,
    "messages": messages_section,
    "schedules": schedules_section,
    "tasks": tasks_section,
    "feedback": feedback_section,
}


def dashboard_snapshot(
    *, now: datetime | None = None, sections: list[str] | None = None, filters: dict | None = None
) -> dict[str, Any]:
    """What the page shows, read at one moment: every section, or those named in
    ``sections`` (the ones the reader may see; the others are not read). ``filters``
    holds each section's own (``{"feedback": {"rating": "down"}}``)."""
    now = now or timezone.now()
    filters = filters or {}
    wanted = SECTIONS if sections is None else [name for name in SECTIONS if name in sections]
    return {
        "generated_at": now.isoformat(),
        **{name: SECTIONS[name](now=now, **filters.get(name, {})) for name in wanted},
    }
