"""Reading events."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Event as EventRow


def events_visible_to(*, user) -> QuerySet[EventRow]:
    """The user's own events; every event for staff."""
    rows = EventRow.objects.select_related("user")
    return rows if user.is_staff else rows.filter(user=user)
