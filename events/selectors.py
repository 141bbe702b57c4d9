"""Reading events and schedules."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from assistant.selectors import PaginationMeta

from .models import Event as EventRow
from .models import Schedule


def staff_may(user, perm: str) -> bool:
    """Whether ``user`` is staff with the Django permission ``perm`` (superusers have
    every one): what lets staff act on other users' events and schedules."""
    return bool(user.is_active and user.is_staff and user.has_perm(perm))


def events_visible_to(*, user) -> QuerySet[EventRow]:
    """The user's own events; every event for staff with ``events.view_event``."""
    rows = EventRow.objects.select_related("user")
    return rows if staff_may(user, "events.view_event") else rows.filter(user=user)


def schedules_visible_to(*, user) -> QuerySet[Schedule]:
    """The user's own schedules; every schedule for staff with ``events.view_schedule``."""
    rows = Schedule.objects.select_related("user")
    return rows if staff_may(user, "events.view_schedule") else rows.filter(user=user)


def _page(rows: QuerySet, *, offset: int, limit: int) -> tuple[list, PaginationMeta]:
    total = rows.count()
    return (list(rows[offset : offset + limit]) if offset < total else []), PaginationMeta(
        offset, limit, total
    )


def event_page(
    *, user, type: str | None = None, status: str | None = None, offset: int = 0, limit: int = 20
) -> dict[str, Any]:
    """The user's own events, newest first, as ``{"events", "pagination"}``."""
    rows = EventRow.objects.select_related("user").filter(user=user)
    if type:
        rows = rows.filter(type=type)
    if status:
        rows = rows.filter(status=status)
    page, meta = _page(rows.order_by("-received_at", "-pk"), offset=offset, limit=limit)
    return {"events": page, "pagination": meta}


def schedule_page(*, user, status: str | None = None, offset: int = 0, limit: int = 20) -> dict[str, Any]:
    """The user's own schedules, newest first, as ``{"schedules", "pagination"}``."""
    rows = Schedule.objects.select_related("user").filter(user=user)
    if status:
        rows = rows.filter(status=status)
    page, meta = _page(rows.order_by("-created_at", "-pk"), offset=offset, limit=limit)
    return {"schedules": page, "pagination": meta}
