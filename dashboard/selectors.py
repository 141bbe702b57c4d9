"""What the staff dashboard shows: one function per section, assembled by
``dashboard_snapshot`` into the JSON the page polls. Every section takes the same
number of queries however many rows there are, and reads only the rows it shows
(counts excepted)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import Left
from django.utils import timezone

from assistant.models import ChatMessage
from events.models import Event as EventRow
from events.registry import site as event_handlers

#: Rows a list shows.
RECENT_EVENTS = 25
RECENT_MESSAGES = 20
#: Finished events (handled, unhandled, failed) are counted over this window; queued
#: and processing ones however old they are.
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
    """The event types a handler is registered for, with its name, by type."""
    return [{"type": kind, "handler": handler.name} for kind, handler in sorted(event_handlers.all().items())]


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


# --- The snapshot ---------------------------------------------------------------------

#: The page's sections, in order: each takes ``now=`` and returns JSON-able data, which
#: the page's script renders with the function of the same name in its ``SECTIONS``.
SECTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "events": events_section,
    "messages": messages_section,
}


def dashboard_snapshot(*, now: datetime | None = None) -> dict[str, Any]:
    """Everything the page shows, read at one moment."""
    now = now or timezone.now()
    return {"generated_at": now.isoformat(), **{name: section(now=now) for name, section in SECTIONS.items()}}
